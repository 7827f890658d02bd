"""Pass content, independent of any wallet vendor.

:mod:`~wallet_service.passes.model` holds the neutral :class:`CardState` the
services compute for a member; :mod:`~wallet_service.passes.templates` loads a
card design from ``pass_templates/`` and renders its fields;
:mod:`~wallet_service.passes.stamp_strip` draws a stamp card's per-member strip.
Pure code: no database, no network, no web framework; the only I/O is reading
the template folder once.
"""

from wallet_service.passes.model import CardState, Money, PassLocation
from wallet_service.passes.templates import PassTemplate, TemplateError, load_template

__all__ = ["CardState", "Money", "PassLocation", "PassTemplate", "TemplateError", "load_template"]
