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

# ------------------------------------------------------------------------------------------------------------------
# Catalogs for the other sources (all sources share the category taxonomy of docs/design.md)

# Counterparties of the operating-account catalog above that other flows generate with their real mechanics
# (Stripe payouts, invoice wires, payroll, treasury transfers), so the vendor flow leaves them out.
NOT_VENDOR_FLOW = frozenset({"Stripe", "Customer wire", "Gusto", "Transfer"})

# Bills paid on a fixed schedule at a fixed amount per contract (the anomaly "recurring_drift" changes one).
RECURRING = frozenset(
    {"WeWork", "Landlord", "Comcast", "Verizon", "PG&E", "Slack", "GitHub", "Atlassian", "Notion", "Zoom", "Insurance"}
)


@dataclass(frozen=True)
class EuVendor:
    """A counterparty of the EUR account (SEPA transfers and direct debits); ``{..}`` placeholders as above."""

    name: str
    category: str
    remittance: tuple[str, ...]
    low: float
    high: float
    weight: float
    direct_debit: bool = False


EU_VENDORS: tuple[EuVendor, ...] = (
    EuVendor("Hetzner Online GmbH", "cloud_hosting", ("Rechnung R{n10}", "Invoice R{n10} Cloud"), 40, 6000, 1.2, True),
    EuVendor("OVH SAS", "cloud_hosting", ("Facture FR{n8}", "OVHcloud commande {n8}"), 20, 3000, 0.6, True),
    EuVendor(
        "WeWork Ireland Ltd", "rent_facilities", ("Membership Dublin {mmdd}", "Office rent {n6}"), 2000, 14000, 0.4
    ),
    EuVendor(
        "Regus Management GmbH", "rent_facilities", ("Miete Büro Berlin {n6}", "Servicegebühr {n6}"), 900, 6000, 0.3
    ),
    EuVendor(
        "Deutsche Telekom AG", "utilities_telecom", ("Telekom Rechnung {n12}", "Mobilfunk {n10}"), 30, 900, 0.6, True
    ),
    EuVendor("Vodafone GmbH", "utilities_telecom", ("Kundennr {n9} Rechnung {n8}",), 25, 700, 0.4, True),
    EuVendor(
        "Stadtwerke München", "utilities_telecom", ("Strom Abschlag {n8}", "Abschlag Gas {n8}"), 80, 1500, 0.3, True
    ),
    EuVendor("Personio SE & Co. KG", "software_saas", ("Subscription {a8}", "Rechnung PE-{n7}"), 200, 4000, 0.5, True),
    EuVendor("Pleo Technologies A/S", "software_saas", ("Pleo subscription {n6}",), 100, 1500, 0.3, True),
    EuVendor("Lufthansa AG", "travel", ("Ticket 220-{n10}", "LH Buchung {a6}"), 120, 2500, 0.6),
    EuVendor("Deutsche Bahn AG", "travel", ("DB Ticket {n12}", "BahnCard Business {n8}"), 20, 700, 0.7),
    EuVendor(
        "Hotel Adlon Kempinski", "travel", ("Hotelrechnung {n6}", "Zimmer {n4} Aufenthalt {mmdd}"), 150, 2200, 0.3
    ),
    EuVendor("Bäckerei Müller GmbH", "meals_entertainment", ("Catering Büro {mmdd}", "Bewirtung {n5}"), 40, 900, 0.4),
    EuVendor("Café Einstein Stammhaus", "meals_entertainment", ("Bewirtung Kunden {mmdd}",), 30, 600, 0.3),
    EuVendor("Büroring eG", "office_supplies_equipment", ("Bürobedarf Rechnung {n7}", "Auftrag {n8}"), 20, 1500, 0.5),
    EuVendor(
        "Cyberport GmbH", "office_supplies_equipment", ("Bestellung {n9}", "Rechnung {n9} Hardware"), 150, 4000, 0.3
    ),
    EuVendor(
        "Google Ireland Ltd", "marketing_advertising", ("Google Ads {n10}", "Ads invoice {n10}"), 100, 9000, 0.6, True
    ),
    EuVendor("Meta Platforms Ireland", "marketing_advertising", ("FB Ads {a9}", "Meta ads {n10}"), 80, 7000, 0.5, True),
    EuVendor(
        "KPMG AG WPG", "professional_services", ("Honorar {n7} Prüfung", "Rechnung {n7} Beratung"), 1500, 30000, 0.2
    ),
    EuVendor("Freshfields Bruckhaus", "professional_services", ("Invoice {n8} legal services",), 2000, 40000, 0.15),
    EuVendor("Anna Schäfer Consulting", "professional_services", ("Freelance Rechnung {n4}-{n3}",), 800, 9000, 0.3),
    EuVendor(
        "Allianz Versicherungs-AG", "insurance", ("Beitrag Police {n10}", "Versicherung {n10}"), 200, 5000, 0.3, True
    ),
    EuVendor("Finanzamt Berlin", "tax", ("USt-VA {n2}/{n4} StNr {n10}", "Lohnsteuer {n2}/{n4}"), 500, 40000, 0.25),
    EuVendor("Techniker Krankenkasse", "payroll_tax", ("Beitragsnachweis {n8}",), 1000, 30000, 0.2, True),
)

EU_CUSTOMER_SUFFIXES = ("GmbH", "B.V.", "S.A.", "AG", "SARL", "Oy", "AB", "S.p.A.", "ApS", "Sp. z o.o.")


@dataclass(frozen=True)
class CardMerchant:
    """A corporate-card merchant: how the card network names it, its MCC, and what employees write as memo."""

    name: str
    mcc: str
    category: str
    low: float
    high: float
    weight: float
    memos: tuple[str, ...]


CARD_MERCHANTS: tuple[CardMerchant, ...] = (
    CardMerchant("UNITED AIRLINES", "3000", "travel", 120, 1900, 1.0, ("Flight to customer visit", "Flight SFO-JFK")),
    CardMerchant("DELTA AIR LINES", "3058", "travel", 120, 1600, 0.9, ("Flight to offsite", "Conference travel")),
    CardMerchant("AMERICAN AIRLINES", "3001", "travel", 120, 1500, 0.6, ("Flight ORD-DFW", "Sales trip")),
    CardMerchant("MARRIOTT HOTELS", "3509", "travel", 120, 1200, 0.8, ("Hotel customer visit", "Hotel 2 nights")),
    CardMerchant("HILTON HOTELS", "3504", "travel", 110, 1000, 0.6, ("Hotel conference", "Hotel")),
    CardMerchant("UBER TRIP", "4121", "travel", 8, 120, 3.0, ("Ride to airport", "Ride to client", "")),
    CardMerchant("LYFT RIDE", "4121", "travel", 8, 100, 1.5, ("Ride to office", "")),
    CardMerchant("AIRBNB", "7011", "travel", 90, 1600, 0.4, ("Team offsite stay", "Lodging")),
    CardMerchant("HERTZ RENT-A-CAR", "3357", "travel", 60, 700, 0.3, ("Rental car", "")),
    CardMerchant("DOORDASH", "5814", "meals_entertainment", 15, 350, 2.0, ("Team lunch", "Working dinner", "")),
    CardMerchant("SWEETGREEN", "5812", "meals_entertainment", 10, 250, 1.5, ("Lunch with candidate", "")),
    CardMerchant("STARBUCKS", "5814", "meals_entertainment", 4, 60, 2.5, ("Coffee with customer", "")),
    CardMerchant("BLUE BOTTLE COFFEE", "5814", "meals_entertainment", 4, 60, 1.2, ("Coffee", "")),
    CardMerchant("THE CAPITAL GRILLE", "5812", "meals_entertainment", 90, 1500, 0.3, ("Client dinner",)),
    CardMerchant("AMAZON MKTPL", "5942", "office_supplies_equipment", 8, 1500, 2.5, ("Office supplies", "Cables", "")),
    CardMerchant("STAPLES", "5111", "office_supplies_equipment", 8, 600, 0.8, ("Printer paper", "Supplies")),
    CardMerchant("APPLE STORE", "5732", "office_supplies_equipment", 80, 3500, 0.4, ("Laptop charger", "New hire Mac")),
    CardMerchant("BEST BUY", "5732", "office_supplies_equipment", 30, 1800, 0.3, ("Monitor", "Headset")),
    CardMerchant("FIGMA", "5734", "software_saas", 15, 900, 0.5, ("Figma seats", "")),
    CardMerchant("ADOBE", "5734", "software_saas", 20, 700, 0.5, ("Creative Cloud", "")),
    CardMerchant("CANVA", "5734", "software_saas", 12, 300, 0.3, ("Canva Pro", "")),
    CardMerchant("OPENAI", "5734", "software_saas", 20, 800, 0.5, ("API usage", "ChatGPT Team")),
    CardMerchant("AWS", "4816", "cloud_hosting", 20, 4000, 0.5, ("Sandbox account", "")),
    CardMerchant("VERCEL", "4816", "cloud_hosting", 20, 900, 0.3, ("Preview deployments", "")),
    CardMerchant("FACEBK ADS", "7311", "marketing_advertising", 50, 5000, 0.6, ("Campaign Q4", "")),
    CardMerchant("GOOGLE ADS", "7311", "marketing_advertising", 50, 6000, 0.6, ("Search campaign", "")),
    CardMerchant("LINKEDIN ADS", "7311", "marketing_advertising", 50, 3000, 0.3, ("Recruiting ads", "")),
    CardMerchant("EVENTBRITE", "7922", "marketing_advertising", 20, 2000, 0.2, ("Meetup sponsorship", "")),
    CardMerchant("VERIZON WIRELESS", "4814", "utilities_telecom", 40, 400, 0.3, ("Phone bill", "")),
    CardMerchant("FEDEX", "4215", "office_supplies_equipment", 10, 300, 0.4, ("Shipping contract", "")),
)

# Vendors never seen before, used by the anomaly "new_counterparty" (a first payment with a large amount).
NEW_VENDORS: tuple[tuple[str, str], ...] = (
    ("ZENITH CAPITAL ADVISORS LLC", "professional_services"),
    ("BLUEWAVE CONSULTING GRP", "professional_services"),
    ("NOVA DIGITAL MEDIA LTD", "marketing_advertising"),
    ("APEX HOLDINGS INTL", "professional_services"),
    ("QUANTUM LEAP SOLUTIONS", "software_saas"),
    ("SILVERLINE TRADING CO", "office_supplies_equipment"),
    ("ORION SUPPLY PARTNERS", "office_supplies_equipment"),
    ("MERIDIAN GLOBAL SERVICES", "professional_services"),
)

CUSTOMER_PREFIXES = (
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Soylent",
    "Acme",
    "Cyberdyne",
    "Tyrell",
    "Wonka",
    "Vandelay",
    "Pied Piper",
    "Aviato",
    "Massive Dynamic",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Sirius",
    "Nakatomi",
    "Dunder",
    "Prestige",
    "Blue Sun",
    "Gekko",
    "Virtucon",
    "Oceanic",
    "Duff",
    "Krusty",
    "Bluth",
    "Sterling",
)
CUSTOMER_SUFFIXES = (
    "Inc",
    "LLC",
    "Corp",
    "Co",
    "Ltd",
    "Group",
    "Holdings",
    "Labs",
    "Partners",
    "Systems",
    "Industries",
    "Analytics",
)
FIRST_NAMES = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "José",
    "María",
    "Zoë",
    "Chloé",
    "René",
    "Søren",
    "Ángel",
    "Noémie",
    "Björn",
    "Łukasz",
    "Priya",
    "Wei",
    "Aisha",
    "Kenji",
    "Fatima",
    "Olga",
    "Mateo",
    "Hannah",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "García",
    "Miller",
    "Davis",
    "Rodríguez",
    "Martínez",
    "Müller",
    "Nguyen",
    "O'Brien",
    "Schäfer",
    "Kowalski",
    "Núñez",
    "Dubois",
    "Larsen",
    "Chen",
    "Patel",
    "Kim",
    "Rossi",
    "Peña",
    "Jørgensen",
    "Öztürk",
    "Fernández",
    "Lefèvre",
    "Ivanova",
    "Haddad",
    "Walker",
)

# Offset (P&L / balance sheet) account of a cash line by category, as the ERP posts it: code, name.
GL_ACCOUNTS: dict[str, tuple[str, str]] = {
    "revenue_card_sales": ("4000", "Revenue - Card Sales"),
    "revenue_invoice_payment": ("1200", "Accounts Receivable"),
    "refund_chargeback": ("4900", "Refunds and Chargebacks"),
    "payment_processing_fee": ("6510", "Payment Processing Fees"),
    "bank_fee_interest": ("6520", "Bank Fees and Interest"),
    "payroll": ("2100", "Accrued Payroll"),
    "payroll_tax": ("2110", "Payroll Taxes Payable"),
    "tax": ("2200", "Income and Sales Tax Payable"),
    "rent_facilities": ("6100", "Rent and Facilities"),
    "utilities_telecom": ("6110", "Utilities and Telecom"),
    "software_saas": ("6200", "Software Subscriptions"),
    "cloud_hosting": ("6210", "Cloud Hosting"),
    "travel": ("6300", "Travel"),
    "meals_entertainment": ("6310", "Meals and Entertainment"),
    "office_supplies_equipment": ("6400", "Office Supplies and Equipment"),
    "marketing_advertising": ("6600", "Marketing and Advertising"),
    "professional_services": ("6700", "Professional Services"),
    "insurance": ("6800", "Insurance"),
    "loan_financing": ("2500", "Notes Payable"),
    "internal_transfer": ("1090", "Cash in Transit"),
    "payout_settlement": ("1150", "Clearing - Payment Processors"),
    "uncategorized": ("9999", "Suspense"),
}
