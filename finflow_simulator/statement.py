"""One account's statement for one day, the input every bank-format renderer takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .model import Line


@dataclass
class AccountDay:
    """The booked lines of one account on one statement day, with the opening balance (cents)."""

    account: str
    currency: str
    day: date
    opening: int
    lines: list[Line] = field(default_factory=list)
    bank_id: str = ""  # routing number / BIC of the account's bank
    name: str = ""  # account name as the bank prints it
    sequence: int = 1  # statement number
    gl_code: str = ""  # the account's code in the ERP's journal ids

    @property
    def closing(self) -> int:
        return self.opening + sum(line.cents for line in self.lines)

    @property
    def credits(self) -> int:
        return sum(line.cents for line in self.lines if line.cents > 0)

    @property
    def debits(self) -> int:
        return -sum(line.cents for line in self.lines if line.cents < 0)
