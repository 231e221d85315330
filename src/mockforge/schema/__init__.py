"""JSON Schema helpers shared by data generation, request validation and response checks.

The schemas are those of ``openapi/model.py``: JSON Schema 2020-12 with every shared schema in one
``defs`` mapping, referenced as ``#/$defs/NAME``. Nothing here knows HTTP, gRPC or WebSocket; it
imports only ``mockforge.core`` and third-party libraries. Import a name from the module that owns it:

- ``defs.py``: ``$ref`` names, following refs, the defs a schema reaches, the ``Defs`` lookups;
- ``allof.py``: ``allOf`` merged into one schema;
- ``generate.py``: ``DataGenerator``, the walker (schema -> value), seedable;
- ``node.py``: the compiled form the walker builds (``Node``, ``Unsat``);
- ``scalars.py``: strings, integers and numbers under their constraints;
- ``formats.py``: ``FORMATS``, word lists and property-name hints;
- ``domain.py``: names and words that fit the object a property belongs to (a pet's ``name``);
- ``patterns.py``: strings that match a ``pattern``;
- ``validate.py``: jsonschema-rs validators, ``Problem`` lines, the request view of a schema;
- ``coerce.py``: strings from a URL or form turned into the types a schema admits;
- ``repair.py``: an example that fails its schema, changed as little as needed to validate;
- ``ecma.py``: ECMA-262 ``pattern`` spellings rewritten for RE2, Rust ``regex`` and Python.
"""
