"""Column names of CRM exports that mean one of our fields (SPEC §11 "Mapping help").

A Salesforce account export says `Account Name`, a HubSpot contacts export `Phone
Number`, Pipedrive `Person - Email`, Odoo `Job Position`: without this table each of
those needed a mapping file. `build_column_map` (rows/mapping.py) matches a header that
is not a field name against it, after explicit mapping entries and exact name matches,
and reports every such match, so that nothing is mapped behind the user's back.

Only unambiguous names are synonyms: a header that could mean two fields of the model,
or something we do not store (`Phone` in an Account export is the company's phone, not
its primary contact's; `Title` is a job title or a salutation), is not one. Such headers
are `HINTS`: `inspect --suggest-mapping` offers them, with a lower confidence, for a
person to confirm. Within one field, earlier synonyms win: a HubSpot company export with
both `Website URL` and `Company Domain Name` takes the first for `website`, and the
other stays an unknown column. Headers are compared after `normalise` (case, spaces,
`-` and `.` do not matter), so `Organization - Name` is `organization_name`.

References to accounts (a contact's `account`, an account's `parent_account`) are account
numbers. The columns CRM exports have for them hold names (Salesforce `Account Name` and
`Parent Account`, HubSpot `Associated Company` and `Parent Company`, Pipedrive `Person -
Organization`): mapped, every row would fail as "not found", so they are neither synonyms
nor hints until references can be resolved by name (SPEC §10 `--account-ref name`).
tests/unit/test_synonyms.py checks that no header means two fields within a model.
"""

# model → field → header names, most preferred first (sources: Salesforce, HubSpot,
# Pipedrive and Odoo exports, and the usual spellings around them)
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "Account": {
        "account_number": (
            "Account No",
            "Account Nr",
            "Customer Number",
            "Customer No",
            "Customer Nr",
        ),
        "name": (
            "Account Name",  # Salesforce
            "Company Name",  # HubSpot, Odoo
            "Organization - Name",  # Pipedrive (and `Organization Name`: the same once normalised)
            "Organisation Name",
            "Company",
            "Organization",
            "Organisation",
            "Business Name",
            "Customer Name",
        ),
        "legal_name": ("Registered Name", "Company Legal Name", "Legal Entity Name"),
        "customer_group": ("Customer Group Name", "Group"),
        "parent_account": (
            "Parent Account Number",
            "Parent Customer Number",
            "Parent Customer No",
        ),
        "website": (
            "Website URL",  # HubSpot
            "Organization - Website",  # Pipedrive
            "Company Website",
            "Web Site",
            "Homepage",
            "Company Domain Name",  # HubSpot: a host name, which the website field takes
        ),
        "industry": ("Organization - Industry", "Company Industry", "Sector"),
        "description": ("Account Description", "Company Description", "About Us"),
        "primary_contact_first_name": ("Contact First Name",),
        "primary_contact_last_name": ("Contact Last Name",),
        "primary_contact_email": ("Contact Email", "Primary Contact Email Address"),
        "primary_contact_phone": ("Contact Phone", "Primary Contact Phone Number"),
    },
    "Contact": {
        "account": ("Account Number", "Account No", "Account Nr"),
        "first_name": (
            "Firstname",
            "Given Name",
            "Forename",
            "Contact First Name",
            "Person - First Name",  # Pipedrive
        ),
        "last_name": (
            "Lastname",
            "Surname",
            "Family Name",
            "Contact Last Name",
            "Person - Last Name",  # Pipedrive
        ),
        "email": (
            "Email Address",
            "E-mail",
            "E-mail Address",
            "Contact Email",
            "Work Email",
            "Person - Email",  # Pipedrive
            "Person - Email - Work",
        ),
        "phone": (
            "Phone Number",  # HubSpot
            "Telephone",
            "Business Phone",
            "Work Phone",
            "Office Phone",
            "Contact Phone",
            "Person - Phone",  # Pipedrive
            "Person - Phone - Work",
            "Mobile Phone Number",  # HubSpot's second phone: only when there is no first
            "Mobile Phone",
            "Mobile",  # Odoo
        ),
        "job_title": ("Job Position", "Position", "Person - Job Title"),  # Odoo: Job Position
        "department": ("Dept",),
        "is_primary": ("Primary Contact", "Is Primary Contact"),
    },
    "CustomerGroup": {
        "name": ("Group Name", "Customer Group", "Customer Group Name", "Group"),
        "group_type": ("Customer Type", "Type"),
    },
}

# Headers that may mean the field but may as well mean something else: offered by
# `inspect --suggest-mapping` only, at HINT_CONFIDENCE, never applied on their own.
HINTS: dict[str, dict[str, tuple[str, ...]]] = {
    "Account": {
        "name": ("Display Name",),  # Odoo: "Company, Person" for a person
        "account_number": ("Account ID", "Reference", "Customer ID"),  # CRM record ids?
        # not Salesforce's `Type` (Customer - Direct, Partner, ...), nor Odoo's `Tags` (a list)
        "customer_group": ("Segment", "Customer Segment"),
        "description": ("Notes",),
    },
    "Contact": {
        "job_title": ("Title", "Role"),  # Salesforce "Title" is the job; elsewhere "Mr"
        "account": ("Account ID",),
    },
    "CustomerGroup": {
        "name": ("Segment", "Customer Segment", "Category"),
    },
}
HINT_CONFIDENCE = 0.7
