def user_emails(user):
    """Every address the user wants notifications at (Devilry's UserEmail)."""
    return list(
        user.useremail_set.filter(use_for_notifications=True)
        .order_by("-is_primary", "email")
        .values_list("email", flat=True)
    )


def user_context(user):
    """What templates see as {{ user.* }}, from Devilry's fullname and shortname."""
    first, _, last = (user.fullname or "").rpartition(" ")
    emails = user_emails(user)
    return {
        "first_name": first,
        "last_name": last or user.lastname,
        "full_name": user.fullname or user.shortname,
        "username": user.shortname,
        "email": emails[0] if emails else "",
    }


def user_language(user):
    """Devilry's preferred language of the user."""
    return user.languagecode
