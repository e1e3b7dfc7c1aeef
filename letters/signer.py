"""The signature block a person signs with (Decree 30, Appendix I): the head in their own title, a deputy
"KT. <head's title>" over their own position, TL., TUQ. and Q. where authority is delegated, and a
collective body's "TM. <body>" above all of them."""

from __future__ import annotations

from hierarchy.model import Person, Signer, Unit
from inputs.vietnamese import upper


class NoPosition(Exception):
    """The hierarchy does not say what position the person signs in."""


def signer_for(unit: Unit, person: Person) -> Signer:
    """The block printed on a letter of unit that person signs."""
    position = person.position
    if position is None and unit.signer is not None and unit.signer.name == person.name:
        return unit.signer  # a file from before positions were given: the unit's signer is this person
    head = unit.head_title
    if position is None or head is None:
        raise NoPosition(
            f"{person.id} ({person.name}) has no position in unit {unit.code}'s approvers: "
            "the hierarchy file must give it (approvers: [{id, name, position}])"
        )
    position, head = upper(position), upper(head)
    collective = unit.collective_name
    on_behalf = f"TM. {upper(collective)}" if collective else None
    mode = person.authority or (None if position == head else "KT")
    if mode == "Q":
        return Signer(on_behalf=on_behalf, position=f"Q. {head}", name=person.name)
    authority = f"{mode}. {head}" if mode else None
    return Signer(on_behalf=on_behalf, authority=authority, position=position, name=person.name)
