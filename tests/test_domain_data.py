"""Issue 14 item 13: generated strings read like the domain (``schema/domain.py``), for OpenAPI
schemas and gRPC messages alike, and stay the same under a seed."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from mockforge.grpc.datagen import MessageGenerator
from mockforge.schema.domain import domain_of
from mockforge.schema.formats import _FIRST, _LAST
from mockforge.schema.generate import DataGenerator

PERSON = re.compile(rf"({'|'.join(_FIRST)}) ({'|'.join(_LAST)})")
NAMED = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
DEFS: dict[str, Any] = {
    "Pet": {"type": "object", "required": ["name", "owner", "tags", "category"],
            "properties": {"name": {"type": "string"}, "owner": NAMED, "category": NAMED,
                           "tags": {"type": "array", "minItems": 1, "items": NAMED}}},
    "Repository": {**NAMED, "required": ["name", "full_name", "branch"],
                   "properties": {"name": {"type": "string"}, "full_name": {"type": "string"},
                                  "branch": {"type": "string"}}},
    "OrderItem": {"type": "object", "required": ["name", "sku", "title", "description", "city"],
                  "properties": {k: {"type": "string"} for k in ("name", "sku", "title", "description", "city")}},
    "NewPetRequest": NAMED,
    "User": NAMED,
}


def values(ref: str, seeds: range = range(8)) -> list[Any]:
    gen = DataGenerator(DEFS, seed=0)
    make = gen.compile({"$ref": f"#/$defs/{ref}"})
    validator = jsonschema_rs.validator_for({"$defs": DEFS, "$ref": f"#/$defs/{ref}"})
    out = [make(random.Random(seed)) for seed in seeds]
    assert all(validator.is_valid(v) for v in out)
    return out


def test_a_pets_name_is_not_a_persons_but_its_owners_is() -> None:
    pets = values("Pet")
    assert not any(PERSON.fullmatch(p["name"]) for p in pets)
    assert all(re.fullmatch(r"[A-Z][a-z]+", p["name"]) for p in pets)  # "Luna", "Milo"
    assert all(PERSON.fullmatch(p["owner"]["name"]) for p in pets)
    assert all(p["category"]["name"].islower() and " " not in p["category"]["name"] for p in pets)  # a tag word
    assert all(t["name"].islower() for p in pets for t in p["tags"])
    assert all(not PERSON.fullmatch(p["name"]) for p in values("NewPetRequest"))  # filler words skipped


def test_repository_and_item_names_read_like_their_domain() -> None:
    for repo in values("Repository"):
        assert re.fullmatch(r"[a-z]+-[a-z]+", repo["name"]) and re.fullmatch(r"[a-z]+-[a-z]+", repo["full_name"])
        assert repo["branch"] in ("main", "develop", "release/2.1", "feature/search")
    for item in values("OrderItem"):
        assert not PERSON.fullmatch(item["name"]) and len(item["name"].split()) in (2, 3)  # "Compact Desk Lamp"
        assert item["name"].split()[0] in ("Compact", "Classic", "Ergonomic", "Wireless", "Organic", "Vintage",
                                           "Portable", "Premium")
        assert re.fullmatch(r"SKU-\d{5}", item["sku"])
        assert item["description"].endswith(".") and item["title"].istitle()
        assert item["city"] in ("Lisbon", "Oslo", "Austin", "Lyon", "Osaka", "Porto", "Denver", "Krakow", "Dublin",
                                "Quito", "Nairobi", "Perth", "Seville", "Tallinn", "Montreal")
    assert all(PERSON.fullmatch(u["name"]) for u in values("User"))


@pytest.mark.parametrize(("context", "kind"), [
    ("PetResponse", "pet"), ("pets", "pet"), ("repositories", "repo"), ("PetOwner", "person"),
    ("LineItemDto", "product"), ("categories", "tag"), ("ErrorDetail", None), (None, None),
])
def test_the_context_is_read_from_its_last_meaningful_word(context: str | None, kind: str | None) -> None:
    assert domain_of(context) == kind


def test_same_seed_same_domain_values_and_another_seed_differs() -> None:
    assert values("Pet") == values("Pet")
    assert values("Pet", range(8)) != values("Pet", range(100, 108))


PROTO = """
syntax = "proto3";
package shop;
message Pet { string name = 1; string species = 2; string owner_email = 3; string description = 4; }
message Book { string title = 1; string author = 2; string isbn = 3; string name = 4; }
message Repo { string name = 1; string branch = 2; string commit = 3; string widget_thing = 4; }
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from google.protobuf import message_factory

    from mockforge.grpc.compiler import run_protoc, well_known_dir
    from mockforge.grpc.service import build_pool

    root = tmp_path_factory.mktemp("protos")
    (root / "shop.proto").write_text(PROTO)
    pool, _ = build_pool(asyncio.run(run_protoc(["shop.proto"], [str(root), str(well_known_dir())])))
    return lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"shop.{name}"))


def test_grpc_strings_read_like_the_domain_and_repeat_for_a_seed(shop: Any) -> None:
    def fill(name: str, seed: int) -> Any:
        return MessageGenerator(random.Random(seed)).fill(shop(name)())

    for seed in range(6):
        pet, book, repo = fill("Pet", seed), fill("Book", seed), fill("Repo", seed)
        every = [pet.name, pet.species, pet.description, book.title, book.author, book.isbn, book.name,
                 repo.name, repo.branch, repo.commit, repo.widget_thing]
        assert not any(re.fullmatch(r"[a-z_]+-\d+", s) for s in every), every  # no "name-6562"
        assert re.fullmatch(r"[A-Z][a-z]+", pet.name) and pet.species in ("dog", "cat", "rabbit", "parrot", "hamster")
        assert "@" in pet.owner_email and pet.description.endswith(".")
        assert book.title.istitle() and PERSON.fullmatch(book.author) and book.isbn.startswith("978-")
        assert re.fullmatch(r"[a-z]+-[a-z]+", repo.name) and re.fullmatch(r"[0-9a-f]{40}", repo.commit)
        assert repo.widget_thing and repo.widget_thing == repo.widget_thing.strip()  # words for unknown names
    assert fill("Book", 3) == fill("Book", 3) and fill("Book", 3) != fill("Book", 4)


def test_word_lists_are_small() -> None:
    import mockforge.schema.domain as domain

    assert Path(domain.__file__).stat().st_size < 16_000
