"""Turning transactions into categorizer inputs.

The categorizer reads the fields every source can give (any of them may be missing): the description as the
source wrote it, the counterparty, the signed amount and currency, the source and the source's own transaction
type. Training rows come from places with fewer fields (a user's history file has no counterparty or type; a
ledger line has no bank source), so every field is optional and missing text is the empty string.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd

CATEGORIZER_INPUT_COLUMNS = ("description", "counterparty", "amount", "currency", "source", "transaction_type")
TEXT_COLUMN = "text"
MERCHANT_COLUMN = "merchant"
COUNTERPARTY_COLUMN = "party"
CATEGORICAL_COLUMNS = ("source_code", "type_code", "currency_code", "amount_band")
MERCHANT_KEY_COLUMN = "merchant_key"
KIND_COLUMN = "kind"

# MCC-like kinds of business: whole words (or their plural) that say what a merchant sells, whatever its name, so a
# merchant never seen before still lands near the ones of its kind. The model learns how each kind maps to the
# user's own categories; the words are generic English and French, none is anyone's category name.
MERCHANT_KINDS = {
    "eat": "CAFE COFFEE ESPRESSO BAR PUB TAVERN RESTAURANT RESTAURANTE BISTRO BRASSERIE DINER GRILL KITCHEN PIZZA "
    "BURGER SUSHI THAI NOODLE KEBAB TAQUERIA TACO BAKERY BOULANGERIE PATISSERIE SANDWICH DOORDASH DELIVEROO "
    "MCDONALD KFC SUBWAY STARBUCKS DOMINO CHIPOTLE WENDY DONUT BAGEL DELI CANTEEN FOOD",
    "grocery": "GROCER SUPERMARKET SUPERMARCHE MARKET FOODS WHOLEFDS SAFEWAY KROGER WALMART TESCO ALDI LIDL CARREFOUR "
    "MONOPRIX FRANPRIX INTERMARCHE AUCHAN DAIRY BUTCHER",
    "fuel": "FUEL PETROL GASOLINE SHELL CHEVRON EXXON TEXACO CALTEX MOBIL ESSO TOTAL GAS STATION",
    "transport": "UBER LYFT TAXI CAB BUS RAIL TRAIN METRO TRANSIT TRANSPORT SNCF RATP TUBE FERRY "
    "PARKING PARK TOLL SCOOTER LIME BIRD",
    "travel": "AIRLINE AIRWAYS AIRLINES AIR FLIGHT HOTEL MOTEL INN LODGE HOSTEL BACKPACKERS AIRBNB BOOKING EXPEDIA "
    "RESORT TRAVEL",
    "health": "PHARMACY PHARMACIE CHEMIST DRUG MEDICAL CLINIC DENTAL DENTIST DOCTOR HOSPITAL HEALTH PHYSIO "
    "OPTOMETRIST OPTICIAN SANTE LABORATOIRE",
    "utility": "ENERGY ELECTRIC POWER GAS WATER UTILITY UTILITIES",
    "telecom": "TELECOM MOBILE WIRELESS BROADBAND INTERNET FIBRE FIBER VODAFONE VERIZON COMCAST ORANGE "
    "BOUYGUES SFR T-MOBILE",
    "digital": "NETFLIX SPOTIFY APPLE ITUNES GOOGLE STEAM KINDLE AUDIBLE HULU DISNEY ADOBE MICROSOFT DROPBOX DIGITAL",
    "shop": "AMAZON STORE SHOP SHOPPING MALL WAREHOUSE TARGET COSTCO IKEA EBAY ETSY DEPT DEPARTMENT OUTLET ELECTRONICS",
    "clothing": "CLOTHING APPAREL FASHION SHOES SHOE BOUTIQUE ZARA H&M GAP NIKE ADIDAS",
    "home": "HARDWARE HOME DEPOT LOWES GARDEN NURSERY FURNITURE LEROY CASTORAMA PAINT",
    "leisure": "CINEMA MOVIE THEATRE THEATER CONCERT TICKET TICKETS MUSEUM ZOO POOL GYM FITNESS SPORT LOTTERY "
    "GAMES BOWLING GOLF CLUB LIBRARY",
    "education": "SCHOOL UNIVERSITY COLLEGE EDUCATION TUITION COURSE ACADEMY BOOKS BOOKSTORE LIBRAIRIE",
    "insurance": "INSURANCE ASSURANCE INSURE MUTUELLE",
    "housing": "RENT RENTAL LEASE LANDLORD PROPERTY PROPERTIES LOYER MORTGAGE STRATA",
    "income": "SALARY PAYROLL WAGES WAGE PAYE SALAIRE DIVIDEND",
    "transfer": "TRANSFER TRANSFERS TFR XFER ZELLE VENMO VIREMENT SAVINGS EPARGNE",
    "fee": "FEE FEES CHARGE CHARGES INTEREST COMMISSION FRAIS COTISATION OVERDRAFT",
    "cash": "ATM CASH WITHDRAWAL RETRAIT DAB",
    "tax": "TAX IRS HMRC IMPOT IMPOTS DGFIP COUNCIL URSSAF",
    "charity": "DONATION CHARITY FOUNDATION FONDATION CHURCH",
    "auto": "AUTOMOTIVE AUTO TYRE TYRES TIRE TIRES MECHANIC REPAIRS GARAGE CARWASH",
    "postal": "POST POSTAGE POSTAL COURIER FEDEX UPS DHL USPS",
    # further kinds after the card networks' merchant category code (MCC) groups
    "personal_care": "SALON BARBER BARBERS HAIR HAIRDRESSER BEAUTY NAIL NAILS SPA COSMETICS COIFFURE",
    "pets": "PET PETS VET VETS VETERINARY ANIMAL",
    "alcohol_tobacco": "LIQUOR WINE WINES BEER BREWERY SPIRITS CELLAR TOBACCO TOBACCONIST SMOKE VAPE CIGAR",
    "gifts_hobbies": "FLORIST FLOWERS GIFT GIFTS JEWELLER JEWELER JEWELRY JEWELLERY TOY TOYS HOBBY CRAFT MUSIC",
    "office": "OFFICE STATIONERY STATIONARY PRINTING PRINT COPY SOFTWARE COMPUTER COMPUTERS HOSTING DOMAIN",
    "services": "LAUNDRY LAUNDROMAT CLEANERS CLEANING PLUMBING PLUMBER ELECTRICIAN MOVING STORAGE LOCKSMITH",
    "professional": "LEGAL LAWYER LAWYERS ATTORNEY SOLICITOR SOLICITORS ACCOUNTING ACCOUNTANT ACCOUNTANTS CONSULTING "
    "ADVERTISING MARKETING NOTAIRE",
    "childcare": "CHILDCARE DAYCARE KINDERGARTEN PRESCHOOL NANNY CRECHE",
    "government": "GOVERNMENT LICENCE LICENSE REGISTRATION PASSPORT COURT FINE FINES",
}
_KIND_OF = {word: kind for kind, words in MERCHANT_KINDS.items() for word in words.split()}
_KIND_WORDS = "|".join(sorted(map(re.escape, _KIND_OF), key=len, reverse=True))
_KIND_PATTERN = re.compile(r"(?<![\w&])(" + _KIND_WORDS + r")S?(?![\w&])")


def merchant_kinds(cleaned: pd.Series) -> pd.Series:
    """``kind:eat kind:fuel``: the kinds of business the words of each cleaned description name ("" when none)."""
    return cleaned.map(lambda text: " ".join(sorted({f"kind:{_KIND_OF[w]}" for w in _KIND_PATTERN.findall(text)})))


BRANDS_FILE = Path(__file__).resolve().parent / "data" / "merchant_brands.tsv"
BRAND_WORDS = 4  # longest brand name looked up, in words


@functools.cache
def _brands() -> dict[str, str]:
    """Cleaned brand name -> ``brand:shop=outdoor brand:...`` (see ``ml/data/README.md``)."""
    table = {}
    for line in BRANDS_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, kinds = line.split("\t")
            table[name] = " ".join(f"brand:{kind}" for kind in kinds.split())
    return table


def _brand_kinds(text: str) -> str:
    """The kinds of the chain a cleaned line starts with, longest name first (``KATHMANDU NEWMARKET`` ->
    ``brand:shop=outdoor``): what a merchant never seen in the history is, from public knowledge of brands. Only
    the start counts: statement lines name the merchant first, and further words (a city, a person: "VICTORIA",
    "DANIEL") collide with brand names by chance."""
    words = text.replace("'", "").replace(".", "").split()
    table = _brands()
    for size in range(min(BRAND_WORDS, len(words)), 0, -1):
        kinds = table.get(" ".join(words[:size]))
        if kinds:
            return kinds
    return ""


def merchant_brands(cleaned: pd.Series) -> pd.Series:
    """``brand:amenity=fuel brand:shop=convenience`` per cleaned description ("" when it names no known chain)."""
    return cleaned.map(_brand_kinds)


# amount bands (absolute, in the transaction's currency): the model learns e.g. "payroll is large, coffee small"
AMOUNT_EDGES = (1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), "").astype(str)


def normalize_text(values: pd.Series) -> pd.Series:
    """Upper case, every digit run to one ``0`` (card refs, invoice and store numbers group), whitespace collapsed."""
    return (
        values.astype(str)
        .str.upper()
        .str.replace(r"\d+", "0", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )


# What statement lines wrap around the merchant (upper case input). Processors and banks put these before, after or
# between the words of the name; none of them says what was bought.
_GENERIC = (
    "POS EFTPOS VISA DEBIT CREDIT CARD CHECKCARD PURCHASE MOBILE RECURRING ONLINE ELECTRONIC PREAUTHORIZED PRE-AUTH "
    "AUTHORIZED W/D PMT ACH DDA WITHDRAWAL WITHDRWL TRANSACTION CONTACTLESS SIGN BASED PIN CARTE PRLV PRELEVEMENT "
    "SEPA VIR VIREMENT RECU EMIS EUROPEEN PERM INST REC POUR MOTIF DES PPD WEB CCD TEL IOPD IOPC FROM TO ON DE THE "
    "INTERNATIONAL FOREIGN RECURNG"
).split()
_PROCESSORS = r"\b(?:SQ|TST|SP|PP|PAYPAL|PY|IN|DD|DNH|SUMUP|ZETTLE|IZ|WPY|GOOGLE|APPLE\s?PAY|AMZN|SQU)\s?\*\s?"
_NOISE = (
    r"\bINDN\s*:.*?(?=\bCO ID\b|$)"  # ACH: the individual's name
    r"|\b(?:CO ID|ID|REF|REFERENCE|TRACE|CONF|CONFIRMATION|AUTH|SEQ|TERMINAL|TERM|STORE|CARD)\b\s*:?\s*"
    r"[A-Z0-9*#/-]*\d[A-Z0-9*#/-]*"  # a label and the number it introduces
    r"|\b\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?\b"  # dates
    r"|\b\d{1,2}[:H]\d{2}(?::\d{2})?\s?(?:[AP]M?)?\b"  # times (12:34, 10H07, 03:03P)
    r"|-?\d{1,2}:\d{2}"  # "-15:03" glued to a name
    r"|#\s?\d+|\(\d+\)|\*+[A-Z0-9]{6,}"  # store / terminal numbers, processor order ids
    r"|\b\d+\b"  # plain numbers
    r"|\bCOMMERCE ELECTRONIQUE\b|\bX{2,}\d*\b"
)
_MIXED = r"\b[A-Z]*\d[A-Z0-9]*\d[A-Z0-9]*\b"  # a token with 2+ digits: card, account, reference numbers...


def _letters_of(match: re.Match[str]) -> str:
    """... of which only runs of 3+ letters stay ("ELIOR43426ARIST1" -> "ELIOR ARIST", "7486787333S" -> "")."""
    return " " + " ".join(re.findall(r"[A-Z]{3,}", match.group(0))) + " "


_GENERIC_WORDS = r"(?<![\w&'-])(?:" + "|".join(w.replace("/", "\\/") for w in _GENERIC) + r")(?![\w&'-])"
_US_STATES = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR "
    "PA RI SC SD TN TX UT VT VA WA WV WI WY DC"
).split()
_TAILS = r"(?:\s+(?:" + "|".join(_US_STATES) + r"|US|USA|NZ|NZL|AU|AUS|GB|GBR|UK|FR|FRA|DEU|CAN|IE|NL))+$"


def clean_description(values: pd.Series) -> pd.Series:
    """The merchant part of statement lines: upper case without processor prefixes ("POS PURCHASE", "SQ *",
    "TST*", "PAYPAL *", "CARTE X9471 16/12"), labelled ids ("REF: ...", "DES: ... INDN: ... CO ID: ..."), dates,
    times, store/terminal/card/reference numbers and a country or US-state tail. Generic words that only say
    how the payment was made go; the name stays, so one merchant reads the same on every line."""
    text = values.astype(str).str.upper().str.replace(r"[\s_]+", " ", regex=True)
    text = text.str.replace(_PROCESSORS, " ", regex=True)
    text = text.str.replace(_NOISE, " ", regex=True).str.replace(_MIXED, _letters_of, regex=True)
    text = text.str.replace(r"[^\w&'./+ -]+", " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    text = text.str.replace(_TAILS, "", regex=True)
    text = text.str.replace(_GENERIC_WORDS, " ", regex=True)
    text = text.str.replace(r"(?<!\w)[-./+]+(?!\w)", " ", regex=True).str.replace(r"\s+", " ", regex=True)
    text = text.str.strip().str.replace(_TAILS, "", regex=True).str.strip(" -./")
    return text.where(text != "", normalize_text(values))  # nothing but numbers: their shape ("0-0-0")


def merchant_key(cleaned: pd.Series, words: int = 2) -> pd.Series:
    """The first ``words`` letter words of a cleaned description: the payee memory's key (one merchant, one key,
    whatever store or city follows)."""
    tokens = cleaned.str.findall(r"[A-Z][A-Z&']+")
    return tokens.map(lambda found: " ".join(found[:words]))


def normalize_description(text: str | None) -> str:
    """One description as the model sees it (see :func:`normalize_text`)."""
    if not isinstance(text, str):
        return ""
    return normalize_text(pd.Series([text])).iloc[0]


def _amount_band(amount: pd.Series) -> pd.Series:
    """``out:7`` / ``in:3`` / ``zero``: the direction and the band of the absolute amount."""
    band = np.searchsorted(np.asarray(AMOUNT_EDGES, dtype=float), amount.abs().to_numpy(), side="right")
    direction = np.where(amount.to_numpy() > 0, "in:", np.where(amount.to_numpy() < 0, "out:", "zero"))
    text = pd.Series(direction, index=amount.index, dtype=object) + pd.Series(band.astype(str), index=amount.index)
    return text.where(direction != "zero", "zero")


def categorizer_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs from raw columns (any of ``CATEGORIZER_INPUT_COLUMNS`` may be absent or null).

    The description falls back to the reference when a source has none (Adyen rows carry only the merchant
    reference); the amount enters as a signed log so direction and size are one feature the model bins.
    """
    description = _text(frame, "description")
    reference = _text(frame, "reference")
    description = description.where(description.str.strip() != "", reference)
    amount = (
        pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0).astype(float)
        if "amount" in frame.columns
        else pd.Series(0.0, index=frame.index)
    )
    # a day's lines repeat (the same merchants, payrolls, fees): clean each distinct one once
    codes, distinct = pd.factorize(description.astype(str))
    cleaned_distinct = clean_description(pd.Series(distinct, dtype=object))
    kinds_distinct = (merchant_kinds(cleaned_distinct) + " " + merchant_brands(cleaned_distinct)).str.strip()
    kinds_distinct = kinds_distinct.to_numpy(dtype=object)
    cleaned = pd.Series(cleaned_distinct.to_numpy(dtype=object)[codes], index=frame.index)
    kinds = pd.Series(kinds_distinct[codes], index=frame.index)
    return pd.DataFrame(
        {
            # "~" keeps each vocabulary non-empty when a training set lacks the field altogether
            TEXT_COLUMN: "~ " + normalize_text(description),
            MERCHANT_COLUMN: "~ " + cleaned,
            MERCHANT_KEY_COLUMN: merchant_key(cleaned),
            KIND_COLUMN: "~ " + kinds,
            COUNTERPARTY_COLUMN: "~ " + normalize_text(_text(frame, "counterparty")),
            "source_code": _text(frame, "source").str.lower(),
            "type_code": _text(frame, "transaction_type").str.lower().str.strip(),
            "currency_code": _text(frame, "currency").str.upper(),
            "amount_band": _amount_band(amount),
        },
        index=frame.index,
    )


def categorizer_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The raw input frame the registered model takes: exactly ``CATEGORIZER_INPUT_COLUMNS``, missing ones empty.

    Text columns are plain ``object`` strings and the amount a float, so the MLflow signature stays stable
    whatever source the rows came from.
    """
    out = pd.DataFrame(index=frame.index)
    for column in CATEGORIZER_INPUT_COLUMNS:
        if column == "amount":
            out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float) if column in frame else 0.0
        else:
            out[column] = _text(frame, column)
    if "reference" in frame.columns:  # only used where the description is empty (see categorizer_features)
        description = out["description"]
        out["description"] = description.where(description.str.strip() != "", _text(frame, "reference"))
    return out
