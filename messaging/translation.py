"""Fields of message templates translated into every language in ``settings.LANGUAGES``."""

from modeltranslation.settings import DEFAULT_LANGUAGE
from modeltranslation.translator import TranslationOptions, register

from .models import MessageTemplate


@register(MessageTemplate)
class MessageTemplateTranslationOptions(TranslationOptions):
    fields = ("subject", "body", "body_text")
    # The default language's subject and body are required; other languages may stay
    # empty and then fall back to the default language's text.
    required_languages = {DEFAULT_LANGUAGE: ("subject", "body"), "default": ()}
