"""ConfigMaps and Secrets through the official ``kubernetes`` client: upstream's rules.

Keys are config keys (file names in a volume), at most 1 MiB of data, a
Secret's ``stringData`` is folded into ``data`` and never stored, its type
defaults to Opaque and never changes, the built-in types need their keys,
and ``immutable: true`` freezes the data and itself (``ValidateConfigMap``,
``ValidateSecret`` and their updates in ``pkg/apis/core/validation``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

NS = "config-data"


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> Iterator[client.CoreV1Api]:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NS}})
    yield core


def _refused(call: Any, text: str, status: int = 422) -> None:
    with pytest.raises(ApiException) as err:
        call()
    assert err.value.status == status, err.value.body
    assert text in err.value.body, err.value.body


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_string_data_is_folded_into_data_and_the_type_defaults(core: client.CoreV1Api) -> None:
    body = {"metadata": {"name": "folded"}, "data": {"a": _b64("x")}, "stringData": {"b": "y"}}
    made = core.create_namespaced_secret(NS, body)
    assert made.type == "Opaque"
    assert made.data == {"a": _b64("x"), "b": _b64("y")}
    assert made.string_data is None
    # On update too, and a stringData value wins over the same key in data.
    made.string_data = {"a": "z"}
    updated = core.replace_namespaced_secret("folded", NS, made)
    assert updated.data == {"a": _b64("z"), "b": _b64("y")}
    assert core.read_namespaced_secret("folded", NS).string_data is None


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"data": {"no way": "1"}}, "data[no way]: Invalid value: 'no way': a valid config key"),
        ({"data": {"..x": "1"}}, "must not start with '..'"),
        ({"data": {"k": "1"}, "binaryData": {"k": _b64("1")}}, "duplicate of key present"),
        ({"binaryData": {"k": "not base64!"}}, "binaryData[k]: Invalid value: illegal base64"),
        ({"data": {"big": "x" * (1024 * 1024 + 1)}}, "Too long: must have at most 1048576 bytes"),
    ],
    ids=["space", "dot-dot", "in-both", "binary-not-base64", "over-1MiB"],
)
def test_bad_config_maps_are_refused(
    core: client.CoreV1Api, body: dict[str, Any], text: str
) -> None:
    doc = {"metadata": {"name": "bad"}, **body}
    _refused(lambda: core.create_namespaced_config_map(NS, doc), text)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"data": {"k": "%%%"}}, "data[k]: Invalid value: illegal base64 data"),
        ({"type": "kubernetes.io/tls", "data": {"tls.crt": ""}}, "data[tls.key]: Required value"),
        ({"type": "kubernetes.io/basic-auth"}, "data[username]: Required value"),
        ({"type": "kubernetes.io/ssh-auth"}, "data[ssh-privatekey]: Required value"),
        (
            {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": _b64("{")}},
            "<secret contents redacted>",
        ),
        (
            {"type": "kubernetes.io/service-account-token"},
            "metadata.annotations[kubernetes.io/service-account.name]: Required value",
        ),
    ],
    ids=["not-base64", "tls", "basic-auth", "ssh-auth", "docker-json", "sa-token"],
)
def test_bad_secrets_are_refused(core: client.CoreV1Api, body: dict[str, Any], text: str) -> None:
    doc = {"metadata": {"name": "bad"}, **body}
    _refused(lambda: core.create_namespaced_secret(NS, doc), text)


def test_exactly_one_mebibyte_of_values_is_allowed(core: client.CoreV1Api) -> None:
    """Upstream counts the values' bytes, not the keys'."""
    doc = {"metadata": {"name": "full"}, "data": {"big": "x" * (1024 * 1024)}}
    assert core.create_namespaced_config_map(NS, doc).metadata.name == "full"
    secret = {"metadata": {"name": "full"}, "data": {"big": _b64("x" * (1024 * 1024 + 1))}}
    _refused(
        lambda: core.create_namespaced_secret(NS, secret),
        "data: Too long: must have at most 1048576 bytes",
    )


def test_immutable_data_and_a_secrets_type_never_change(core: client.CoreV1Api) -> None:
    frozen = {"metadata": {"name": "frozen"}, "data": {"k": "v"}, "immutable": True}
    core.create_namespaced_config_map(NS, frozen)
    _refused(
        lambda: core.patch_namespaced_config_map("frozen", NS, {"data": {"k": "w"}}),
        "data: Forbidden: field is immutable when `immutable` is set",
    )
    _refused(
        lambda: core.patch_namespaced_config_map("frozen", NS, {"immutable": False}),
        "immutable: Forbidden: field is immutable when `immutable` is set",
    )
    labelled = core.patch_namespaced_config_map("frozen", NS, {"metadata": {"labels": {"a": "b"}}})
    assert labelled.metadata.labels == {"a": "b"} and labelled.data == {"k": "v"}
    core.create_namespaced_secret(NS, {"metadata": {"name": "typed"}, "type": "example.com/x"})
    _refused(
        lambda: core.patch_namespaced_secret("typed", NS, {"type": "Opaque"}),
        "type: Invalid value: 'Opaque': field is immutable",
    )
    mutable = {"metadata": {"name": "mutable"}, "data": {"k": "v"}}
    core.create_namespaced_config_map(NS, mutable)
    assert core.patch_namespaced_config_map("mutable", NS, {"data": {"k": "w"}}).data == {"k": "w"}
