"""The catalog's RDF vocabulary: one class, a handful of properties, one IRI per package."""

from __future__ import annotations

import re

from rdflib import Namespace, URIRef

MP = Namespace("https://marketplace.example.org/ns#")
PKG = Namespace("https://marketplace.example.org/package/")

PACKAGE = MP.Package
NAME = MP.name
VERSION = MP.version
DESCRIPTION = MP.description
KEYWORD = MP.keyword
LICENSE = MP.license
DOWNLOADS = MP.downloads
DEPENDS_ON = MP.dependsOn

# A package id is also the last segment of its IRI, so it must be IRI-safe. Anything else cannot
# name a package, which lets the API answer 404 without building an IRI from user text.
PACKAGE_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def is_package_id(text: str) -> bool:
    return PACKAGE_ID_RE.fullmatch(text) is not None


def package_iri(package_id: str) -> URIRef:
    return PKG[package_id]


def package_id(iri: URIRef | str) -> str:
    return str(iri)[len(str(PKG)) :]
