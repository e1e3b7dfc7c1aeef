"""What a unit of the hierarchy is, as the hierarchy file states it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Level(StrEnum):
    central = "central"
    province = "province"
    district = "district"
    commune = "commune"
    village = "village"  # thôn, tổ dân phố (and bản, ấp, khu phố): below the commune


class Kind(StrEnum):
    committee = "committee"
    department = "department"
    office = "office"
    centre = "centre"
    press = "press"
    enterprise = "enterprise"
    other = "other"


class Link(StrEnum):
    """How a parent relates to a child: it directs it, or only requests its cooperation."""

    direct = "direct"
    request = "request"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Signer(_Strict):
    """Who signs: "KT. GIÁM ĐỐC" over "PHÓ GIÁM ĐỐC" over the name; a collective body's line above them."""

    on_behalf: Text | None = Field(None, description="For a collective body: 'TM. ỦY BAN NHÂN DÂN', above the rest")
    authority: Text | None = Field(None, description="Authority prefix, e.g. 'KT. GIÁM ĐỐC', 'TM. ỦY BAN NHÂN DÂN'")
    position: Text = Field(description="Position in capitals, e.g. 'TRƯỞNG PHÒNG'")
    name: Text

    @property
    def titles(self) -> tuple[str, ...]:
        """The capitalised lines above the signature: on behalf of, authority, position."""
        return tuple(line for line in (self.on_behalf, self.authority, self.position) if line)


Authority = Literal["KT", "TL", "TUQ", "Q"]


class Person(_Strict):
    """Someone acting for a unit: an approver of its letters, or a reporter of its reports."""

    id: Text
    name: Text
    position: Text | None = Field(None, description="An approver's own position, in capitals: 'PHÓ GIÁM ĐỐC'")
    authority: Authority | None = Field(
        None,
        description="How they sign for the head: KT (a deputy; the default when the position is not the head's), "
        "TL, TUQ, Q (acting head); none for the head",
    )


class Role(_Strict):
    """A role a unit plays as a recipient; roles sharing a group label share a 'Kính gửi' line."""

    name: Text
    group: Text


class Unit(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    code: Text = Field(description="Official code: the key")
    name: Text = Field(description="Name as printed, e.g. 'Phòng Văn hóa và Thông tin'")
    parent: Text | None = None
    link: Link = Link.direct
    level: Level
    kind: Kind
    roles: tuple[Text, ...] = ()
    place: Text = Field(description="Place name for dating letters, e.g. 'Cao Lộc'")
    scope: Text = Field(description="Scope word: 'tỉnh', 'huyện', 'xã'")
    area: Text = Field(description="Area name, e.g. 'Cao Lộc'")
    own_email: Text | None = Field(
        None,
        alias="email",
        description="The unit's e-mail address; required (hierarchy.load) but for a village, which without one "
        "is reached at its commune's",
    )
    short_name: Text | None = Field(None, description="How the unit names itself: 'Phòng', 'Sở'")
    addressed_as: Text | None = Field(None, description="Name in its parent's 'Kính gửi' (default: name)")
    parent_body: Text | None = Field(None, description="Body printed above the name in the header")
    abbreviation: Text | None = Field(None, description="Used in notations: STTTT, VHTT, UBND")
    drafting_unit: Text | None = None
    signer: Signer | None = None
    approvers: tuple[Person, ...] = ()
    reporters: tuple[Person, ...] = Field((), description="Who may submit the unit's reports (its approvers may too)")
    drafters: tuple[Person, ...] = Field(
        (), description="Who prepares the unit's letters (chuyên viên): edits drafts and submits them to its approvers"
    )
    copies: tuple[Text, ...] = ()
    groups: dict[str, Text] = Field(default_factory=dict, description="Role -> collective label override")
    head: Text | None = Field(None, description="The head's title, 'GIÁM ĐỐC' (default: from the signer)")
    collective: Text | None = Field(
        None, description="A collective body signed for with TM.: 'ỦY BAN NHÂN DÂN' (default: from the signer)"
    )

    _reached_at: str | None = PrivateAttr(None)  # a village without an address: its commune's (Hierarchy.build)

    @property
    def email(self) -> str:
        """Where the unit's letters and notices go: its own address, or, for a village without one, the address of
        the unit it is reached through (its commune), as the hierarchy it belongs to resolves it."""
        address = self.own_email or self._reached_at
        if address is None:
            raise ValueError(f"unit {self.code} has no e-mail address of its own and none to be reached through")
        return address

    @property
    def reached_through_parent(self) -> bool:
        """A village without an address of its own: its mail goes to its commune."""
        return self.own_email is None

    @property
    def self_name(self) -> str:
        return self.short_name or self.name.split()[0]

    @property
    def recipient_name(self) -> str:
        return self.addressed_as or self.name

    @property
    def head_title(self) -> str | None:
        """The head's title: as given, else read off the signer ('KT. GIÁM ĐỐC' → 'GIÁM ĐỐC')."""
        if self.head or self.signer is None:
            return self.head
        authority = self.signer.authority or ""
        if authority.startswith("KT. "):
            return authority[4:]
        return self.signer.position

    @property
    def collective_name(self) -> str | None:
        """The collective body a signature is made on behalf of: as given, else from the signer's 'TM. …'."""
        if self.collective or self.signer is None:
            return self.collective
        for line in (self.signer.on_behalf, self.signer.authority):
            if line and line.startswith("TM. "):
                return line[4:]
        return None


class HierarchyInfo(_Strict):
    name: Text
    version: Text
    root: Text


class HierarchyFile(_Strict):
    """The whole file, before graph checks."""

    hierarchy: HierarchyInfo
    roles: dict[str, Role]
    units: tuple[Unit, ...]
