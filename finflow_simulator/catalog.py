"""Who the simulated company pays and is paid by, and how each appears on a bank statement.

Descriptors follow what real statements show: card processor prefixes (``SQ *``, ``TST*``, ``PAYPAL *``),
truncated merchant names, store numbers, ACH company ids and dates. ``{n4}``-style placeholders are filled
with random digits, ``{mmdd}`` with the booking date, ``{city}`` with a city.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counterparty:
    name: str
    category: str
    descriptors: tuple[str, ...]
    low: float
    high: float
    direction: int  # +1 money in, -1 money out
    weight: float  # relative frequency per day
    round_amounts: bool = False


CITIES = ("SAN FRANCISCO CA", "NEW YORK NY", "SEATTLE WA", "AUSTIN TX", "CHICAGO IL", "DENVER CO", "BOSTON MA")

COUNTERPARTIES: tuple[Counterparty, ...] = (
    # money in
    Counterparty("Stripe", "payout_settlement", ("STRIPE TRANSFER ST-{a8}", "STRIPE PAYOUT {a8}"), 800, 25000, 1, 3),
    Counterparty(
        "Customer wire",
        "revenue_invoice_payment",
        ("WIRE TRANSFER IN {a6} INV-{n5}", "INCOMING WIRE REF INV-{n5} {company}", "ACH CREDIT {company} INV{n5}"),
        500,
        40000,
        1,
        4,
    ),
    Counterparty(
        "Card sales", "revenue_card_sales", ("SQUARE INC SQ{n6} DEP", "CLOVER MERCH DEP {n8}"), 50, 4000, 1, 3
    ),
    Counterparty("Interest", "bank_fee_interest", ("INTEREST PAYMENT", "INTEREST EARNED {mmdd}"), 1, 300, 1, 0.2),
    Counterparty(
        "Refund in", "refund_chargeback", ("REFUND {vendor} {n6}", "CHARGEBACK REVERSAL {n6}"), 10, 900, 1, 0.6
    ),
    # money out
    Counterparty("Gusto", "payroll", ("GUSTO PAYROLL {n6}", "GUSTO NET PAY {mmdd} {n4}"), 2000, 60000, -1, 1),
    Counterparty("IRS", "payroll_tax", ("IRS USATAXPYMT {n12}", "EFTPS TAX PMT {n9}"), 1000, 20000, -1, 0.5),
    Counterparty("State tax", "tax", ("CA FTB TAX PYMT {n8}", "FRANCHISE TAX BD PYMT {n6}"), 200, 9000, -1, 0.2),
    Counterparty(
        "WeWork", "rent_facilities", ("WEWORK {n8} NEW YORK NY", "WEWORK MEMBERSHIP {mmdd}"), 2000, 15000, -1, 0.4
    ),
    Counterparty(
        "Landlord",
        "rent_facilities",
        ("ACH DEBIT 500 MARKET ST LLC RENT", "RENT PMT 500 MARKET ST"),
        8000,
        9000,
        -1,
        0.2,
    ),
    Counterparty(
        "Comcast", "utilities_telecom", ("COMCAST BUSINESS {n10}", "COMCAST CABLE COMM {city}"), 150, 400, -1, 0.5
    ),
    Counterparty("Verizon", "utilities_telecom", ("VZWRLSS*APOCC VISB", "VERIZON WIRELESS {n6}"), 200, 1200, -1, 0.5),
    Counterparty("PG&E", "utilities_telecom", ("PGANDE WEB ONLINE {mmdd}", "PG&E/EZ-PAY {n9}"), 300, 2500, -1, 0.3),
    Counterparty("Slack", "software_saas", ("SLACK T{a8} DUBLIN", "SLACK TECHNOLOGIES {n6}"), 80, 2400, -1, 1),
    Counterparty("GitHub", "software_saas", ("GITHUB, INC. {n6}", "GITHUB.COM {a7}"), 20, 2100, -1, 1),
    Counterparty("Atlassian", "software_saas", ("ATLASSIAN SYDNEY {a6}", "ATLASSIAN PTY LTD {n8}"), 50, 1800, -1, 0.8),
    Counterparty("Notion", "software_saas", ("NOTION LABS, INC. {n5}", "NOTION.SO {a6}"), 16, 800, -1, 0.6),
    Counterparty("Zoom", "software_saas", ("ZOOM.US 888-799-9666", "ZOOM VIDEO COMM {n6}"), 15, 600, -1, 0.6),
    Counterparty("AWS", "cloud_hosting", ("AMAZON WEB SERVICES AWS.AMAZON.CO", "AWS EMEA {a9}"), 200, 30000, -1, 1.2),
    Counterparty("Google Cloud", "cloud_hosting", ("GOOGLE *CLOUD {a6}", "GOOGLE CLOUD {n10}"), 50, 12000, -1, 0.8),
    Counterparty("DigitalOcean", "cloud_hosting", ("DIGITALOCEAN.COM {n6}", "DIGITALOCEAN {a8}"), 10, 900, -1, 0.5),
    Counterparty("United", "travel", ("UNITED {n13} {city}", "UNITED AIRLINES {n10}"), 150, 1800, -1, 1.2),
    Counterparty("Delta", "travel", ("DELTA AIR {n13}", "DELTA AIR LINES ATLANTA"), 150, 1500, -1, 1),
    Counterparty("Uber", "travel", ("UBER *TRIP {a6} HELP.UBER.COM", "UBER   *TRIP {a5}"), 8, 120, -1, 3),
    Counterparty("Marriott", "travel", ("MARRIOTT {n5} {city}", "COURTYARD BY MARRIOTT {city}"), 120, 900, -1, 1),
    Counterparty("Airbnb", "travel", ("AIRBNB * HM{a8}", "AIRBNB HMQ{a7} {n4}"), 90, 1500, -1, 0.6),
    Counterparty(
        "Blue Bottle", "meals_entertainment", ("SQ *BLUE BOTTLE COFFEE {city}", "BLUE BOTTLE COFFEE {n4}"), 4, 60, -1, 3
    ),
    Counterparty("DoorDash", "meals_entertainment", ("DOORDASH*{a8}", "DD *DOORDASH {a6}"), 15, 400, -1, 3),
    Counterparty("Sweetgreen", "meals_entertainment", ("TST* SWEETGREEN {n4}", "SWEETGREEN {city}"), 10, 300, -1, 2),
    Counterparty("Staples", "office_supplies_equipment", ("STAPLES {n5} {city}", "STAPLES.COM {n8}"), 10, 700, -1, 1),
    Counterparty(
        "Amazon", "office_supplies_equipment", ("AMZN MKTP US*{a9}", "AMAZON.COM*{a9} AMZN.COM/BILL"), 8, 2500, -1, 3
    ),
    Counterparty(
        "Apple", "office_supplies_equipment", ("APPLE.COM/US {n10}", "APPLE STORE R{n3} {city}"), 100, 4000, -1, 0.5
    ),
    Counterparty("Google Ads", "marketing_advertising", ("GOOGLE *ADS{n10}", "GOOGLE ADS {n10}"), 100, 9000, -1, 1),
    Counterparty("Meta", "marketing_advertising", ("FACEBK *{a9}", "META PLATFORMS ADS {a8}"), 50, 7000, -1, 1),
    Counterparty("LinkedIn", "marketing_advertising", ("LINKEDIN ADS {n9}", "LINKEDIN *{a8}"), 100, 5000, -1, 0.5),
    Counterparty(
        "Law firm", "professional_services", ("COOLEY LLP WIRE {n6}", "ACH DEBIT COOLEY LLP {n6}"), 2000, 25000, -1, 0.3
    ),
    Counterparty(
        "Accountants", "professional_services", ("BDO USA LLP {n6}", "PILOT.COM BOOKKEEPING {n5}"), 500, 8000, -1, 0.3
    ),
    Counterparty("Insurance", "insurance", ("THE HARTFORD INS PREM {n8}", "EMBROKER INS {n6}"), 300, 6000, -1, 0.3),
    Counterparty("Loan", "loan_financing", ("SVB LOAN PMT {n8}", "LOAN PAYMENT {n10}"), 5000, 20000, -1, 0.2, True),
    Counterparty(
        "Transfer",
        "internal_transfer",
        ("ONLINE TRANSFER TO SAV ...{n4}", "TRANSFER TO TREASURY {n6}"),
        1000,
        100000,
        -1,
        0.4,
        True,
    ),
    Counterparty(
        "Bank fees",
        "bank_fee_interest",
        ("SERVICE CHARGE {mmdd}", "WIRE FEE {n6}", "MONTHLY MAINTENANCE FEE"),
        5,
        60,
        -1,
        0.8,
    ),
    Counterparty(
        "Stripe fees", "payment_processing_fee", ("STRIPE FEES {a8}", "STRIPE BILLING {n6}"), 10, 900, -1, 0.5
    ),
    Counterparty(
        "Refunds out", "refund_chargeback", ("REFUND TO CUSTOMER {n6}", "CHARGEBACK {n8} DISPUTE"), 10, 900, -1, 0.6
    ),
)

COMPANIES = ("ACME CORP", "GLOBEX INC", "INITECH LLC", "UMBRELLA CO", "HOOLI", "STARK IND", "WAYNE ENT", "SOYLENT")
VENDORS = ("AMAZON", "DELTA", "UNITED", "STAPLES", "APPLE")
