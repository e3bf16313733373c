"""Fields of message templates translated into every language in ``settings.LANGUAGES``."""

from modeltranslation.translator import TranslationOptions, register

from .models import MessageTemplate


@register(MessageTemplate)
class MessageTemplateTranslationOptions(TranslationOptions):
    fields = ("subject", "body", "body_text")
