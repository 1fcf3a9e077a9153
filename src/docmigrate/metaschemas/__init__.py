"""The metaschemas of JSON Schema drafts 4, 6, 7, 2019-09 and 2020-12, with their vocabularies.

``metaschemas.json`` maps each metaschema's URI to its document, as published by the JSON
Schema organisation; copied from jsonschema-specifications 2025.9.1 (MIT, ``LICENSE``), so that
a ``$ref`` to a metaschema resolves offline (see :mod:`docmigrate.resources`).
"""
