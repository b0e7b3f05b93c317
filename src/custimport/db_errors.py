"""Database errors that fail one row, in words a person can act on.

The constraint names come from the naming convention in models.py, so they are
the same on SQLite and PostgreSQL (SQLite reports UNIQUE failures by columns,
hence the second table).
"""

from sqlalchemy.exc import DBAPIError

BY_CONSTRAINT = {
    "uq_account_account_number": ("account_number", "an account with this number already exists"),
    "uq_contact_account_id_lower_email": (
        "email",
        "another contact of this account already has this email",
    ),
    "uq_contact_one_primary_per_account": (
        "is_primary",
        "this account already has a primary contact",
    ),
    "uq_customer_group_name_key": ("name", "a customer group with this name already exists"),
    "fk_account_parent_account_id_account": ("parent_account", "the parent account does not exist"),
    "fk_account_customer_group_id_customer_group": (
        "customer_group",
        "the customer group does not exist",
    ),
    "fk_contact_account_id_account": ("account", "the account does not exist"),
    "ck_account_not_own_parent": ("parent_account", "an account cannot be its own parent"),
}
BY_SQLITE_TEXT = {
    "account.account_number": BY_CONSTRAINT["uq_account_account_number"],
    "contact.account_id, lower(email)": BY_CONSTRAINT["uq_contact_account_id_lower_email"],
    "index 'uq_contact_account_id_lower_email'": BY_CONSTRAINT["uq_contact_account_id_lower_email"],
    "contact.account_id": BY_CONSTRAINT["uq_contact_one_primary_per_account"],
    "index 'uq_contact_one_primary_per_account'": BY_CONSTRAINT[
        "uq_contact_one_primary_per_account"
    ],
    "customer_group.name_key": BY_CONSTRAINT["uq_customer_group_name_key"],
    "FOREIGN KEY constraint failed": ("row", "a referenced record does not exist"),
}


def describe_row_error(error: DBAPIError) -> tuple[str, str]:
    """(field, message) for a constraint violation; the driver's first line otherwise."""
    original = error.orig
    diag = getattr(original, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint in BY_CONSTRAINT:
        return BY_CONSTRAINT[constraint]
    text = str(original)
    for needle, described in (*BY_CONSTRAINT.items(), *BY_SQLITE_TEXT.items()):
        if needle in text:
            return described
    first_line = text.strip().splitlines()[0] if text.strip() else type(original).__name__
    return "row", f"the database refused the row: {first_line}"
