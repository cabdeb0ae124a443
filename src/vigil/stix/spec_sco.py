"""The STIX 2.1 cyber-observable objects and their predefined extensions as data (a
table of ``_Spec``), for ``vigil.stix.validate``."""

from __future__ import annotations

import re
from typing import Any

from vigil.stix._formats import (
    EMAIL_RE,
    IPV4_RE,
    MAC_RE,
    is_hostname,
    is_ipv6,
    show,
)
from vigil.stix.checks import (
    Check,
    Err,
    _Ctx,
    _is_int,
    _sub,
    _v,
    c_bin,
    c_bool,
    c_enum,
    c_hex,
    c_int,
    c_list,
    c_num,
    c_ref,
    c_refs,
    c_regex,
    c_search,
    c_str,
    c_strs,
    c_strs0,
    c_ts,
    c_ts_whole,
    c_uri,
)
from vigil.stix.shapes import c_dictionary, c_hashes, c_object, c_sco_extensions
from vigil.stix.spec_sdo import (
    _S,
    _order,
    _require_any,
    _sco,
    _Spec,
    _uuid4_unless,
)

# --- SCOs ------------------------------------------------------------------------


def c_hostname(v: Any) -> Err | None:
    if not isinstance(v, str):
        return _v(f"{show(v)} is not a string")
    if not is_hostname(v):
        return _v(f"{show(v)} is not a domain name")
    return None


def c_ipv6(v: Any) -> Err | None:
    if not isinstance(v, str):
        return _v(f"{show(v)} is not a string")
    if not is_ipv6(v):
        return _v(f"{show(v)} is not an IPv6 address or CIDR block")
    return None


c_email = c_regex(EMAIL_RE, "an e-mail address")
c_ipv4 = c_regex(IPV4_RE, "an IPv4 address or CIDR block")
c_mac = c_regex(MAC_RE, "a MAC address (lower-case, colon-separated)")
_INT = c_int()
_UINT = c_int(0)
_HOSTS = ("ipv4-addr", "ipv6-addr", "mac-addr", "domain-name")

_ENCODING_NAME_RE = re.compile(r"[a-zA-Z0-9/.+_:-]{2,250}\Z")
_MIME_RE = re.compile(
    r"^(?:application|audio|font|image|message|model|multipart|text|video)/"
    r"[a-zA-Z0-9.+_-]+"
)
_CPE_RE = re.compile(
    r"cpe:2\.3:[aho*\-](:(((\?*|\*?)([a-zA-Z0-9\-._]|(\\[\\*?!\"#$$%&'()+,/:;<=>@\[\]^`{|}~]))+"
    r"(\?*|\*?))|[*\-])){5}(:(([a-zA-Z]{2,3}(-([a-zA-Z]{2}|[0-9]{3}))?)|[*\-]))"
    r"(:(((\?*|\*?)([a-zA-Z0-9\-._]|(\\[\\*?!\"#$$%&'()+,/:;<=>@\[\]^`{|}~]))+(\?*|\*?))|[*\-])){4}"
)
_SOFTWARE_LANG_RE = re.compile(
    r"(?:[a-z]{2}(?:-[A-Z]{2})?(?:-[a-z]{4})?(?:-[A-Z]{2}|[0-9]{3})?"
    r"(?:-[a-z0-9]{5,8}|[0-9][a-z0-9]{3})*(?:-[a-z0-9]{1,8})*|[a-z]{3})\Z"
)
_REGISTRY_ABBREVIATION_RE = re.compile(r"^HKLM|HKCC|HKCR|HKCU|HKU|hklm|hkcc|hkcr|hkcu|hku\Z")
_HEADER_FIELD_IS_PROPERTY_RE = re.compile(
    r"^date|received_lines|content_type|from_ref|sender_ref|to_refs|cc_refs|bcc_refs|subject\Z"
)


def c_header_value(v: Any) -> Err | None:
    if isinstance(v, str):
        return None
    if isinstance(v, list) and len(v) >= 2 and all(isinstance(x, str) for x in v):
        return None
    return _v(f"{show(v)} is not a string or a list of two or more strings")


_header_dictionary = c_dictionary(c_header_value)


def c_additional_header_fields(v: Any) -> Err | None:
    e = _header_dictionary(v)
    if e is not None:
        return e
    if all(_HEADER_FIELD_IS_PROPERTY_RE.search(k) for k in v):
        return ("stix.property", "", "these header fields have their own email-message properties")
    return None


def _one_of_required(a: str, b: str, inner: Check) -> Check:
    def check(v: Any) -> Err | None:
        e = inner(v)
        if e is not None:
            return e
        if (a in v) == (b in v):
            return ("stix.required", "", f"exactly one of {a}, {b} is required")
        return None

    return check


c_mime_part = _one_of_required(
    "body",
    "body_raw_ref",
    c_object(
        {
            "body": _S,
            "body_raw_ref": c_ref(("artifact", "file")),
            "content_type": _S,
            "content_disposition": _S,
        }
    ),
)
c_registry_value = c_object(
    {
        "name": _S,
        "data": _S,
        "data_type": c_enum(
            "REG_NONE",
            "REG_SZ",
            "REG_EXPAND_SZ",
            "REG_BINARY",
            "REG_DWORD",
            "REG_DWORD_BIG_ENDIAN",
            "REG_DWORD_LITTLE_ENDIAN",
            "REG_LINK",
            "REG_MULTI_SZ",
            "REG_RESOURCE_LIST",
            "REG_FULL_RESOURCE_DESCRIPTION",
            "REG_RESOURCE_REQUIREMENTS_LIST",
            "REG_QWORD",
            "REG_INVALID_TYPE",
        ),
    },
    any_of=("name", "data", "data_type"),
)

_OPTIONAL_HEADER: dict[str, Check] = {
    "magic_hex": c_hex,
    "major_linker_version": _INT,
    "minor_linker_version": _INT,
    "size_of_code": _UINT,
    "size_of_initialized_data": _UINT,
    "size_of_uninitialized_data": _UINT,
    "address_of_entry_point": _INT,
    "base_of_code": _INT,
    "base_of_data": _INT,
    "image_base": _INT,
    "section_alignment": _INT,
    "file_alignment": _INT,
    "major_os_version": _INT,
    "minor_os_version": _INT,
    "major_image_version": _INT,
    "minor_image_version": _INT,
    "major_subsystem_version": _INT,
    "minor_subsystem_version": _INT,
    "win32_version_value_hex": c_hex,
    "size_of_image": _UINT,
    "size_of_headers": _UINT,
    "checksum_hex": c_hex,
    "subsystem_hex": c_hex,
    "dll_characteristics_hex": c_hex,
    "size_of_stack_reserve": _UINT,
    "size_of_stack_commit": _UINT,
    "size_of_heap_reserve": _UINT,
    "size_of_heap_commit": _UINT,
    "loader_flags_hex": c_hex,
    "number_of_rva_and_sizes": _INT,
    "hashes": c_hashes,
}
_PE_FIELDS = (
    "imphash",
    "machine_hex",
    "number_of_sections",
    "time_date_stamp",
    "pointer_to_symbol_table_hex",
    "number_of_symbols",
    "size_of_optional_header",
    "characteristics_hex",
    "file_header_hashes",
    "optional_header",
    "sections",
)

_EXIF_KEY_RE = re.compile(r"^[A-Z][a-zA-Z0-9_-]+\Z")


def c_str_or_int(v: Any) -> Err | None:
    return None if isinstance(v, str) or _is_int(v) else _v(f"{show(v)} is not a string or integer")


FILE_EXTENSIONS: dict[str, Check] = {
    "ntfs-ext": c_object(
        {
            "sid": _S,
            "alternate_data_streams": c_list(
                c_object({"name": _S, "hashes": c_hashes, "size": _UINT}, required=("name",)),
                min_items=0,
            ),
        },
        any_of=("sid", "alternate_data_streams"),
    ),
    "raster-image-ext": c_object(
        {
            "image_height": _INT,
            "image_width": _INT,
            "bits_per_pixel": _INT,
            "exif_tags": c_dictionary(c_str_or_int, key_rx=_EXIF_KEY_RE),
        },
        any_of=(
            "image_height",
            "image_width",
            "bits_per_pixel",
            "image_compression_algorithm",
            "exif_tags",
        ),
    ),
    "pdf-ext": c_object(
        {
            "version": _S,
            "is_optimized": c_bool,
            "document_info_dict": c_dictionary(c_str),
            "pdfid0": _S,
            "pdfid1": _S,
        },
        any_of=("version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"),
    ),
    "archive-ext": c_object(
        {"contains_refs": c_refs(("file", "directory")), "comment": _S}, required=("contains_refs",)
    ),
    "windows-pebinary-ext": c_object(
        {
            "pe_type": _S,
            "imphash": _S,
            "machine_hex": c_hex,
            "number_of_sections": _UINT,
            "time_date_stamp": c_ts_whole,
            "pointer_to_symbol_table_hex": c_hex,
            "number_of_symbols": _UINT,
            "size_of_optional_header": _UINT,
            "characteristics_hex": c_hex,
            "file_header_hashes": c_hashes,
            "optional_header": c_object(_OPTIONAL_HEADER, closed=True, min_props=1),
            "sections": c_list(
                c_object(
                    {"name": _S, "size": _UINT, "entropy": c_num(), "hashes": c_hashes},
                    required=("name",),
                )
            ),
        },
        required=("pe_type",),
        any_of=_PE_FIELDS,
    ),
}

_SOCKET_OPTION_RE = re.compile(r"^(?:SO|ICMP|ICMP6|IP|IPV6|MCAST|TCP|IRLMP)(?:_[A-Z]+)+\Z")
NETWORK_TRAFFIC_EXTENSIONS: dict[str, Check] = {
    "http-request-ext": c_object(
        {
            "request_method": _S,
            "request_value": _S,
            "request_version": _S,
            "request_header": c_dictionary(c_strs0, key_rx=re.compile(r".")),
            "message_body_length": _INT,
            "message_body_data_ref": c_ref(("artifact",)),
        },
        required=("request_method", "request_value"),
    ),
    "icmp-ext": c_object(
        {"icmp_type_hex": c_hex, "icmp_code_hex": c_hex},
        required=("icmp_type_hex", "icmp_code_hex"),
    ),
    "socket-ext": c_object(
        {
            "address_family": c_enum(
                "AF_UNSPEC",
                "AF_INET",
                "AF_IPX",
                "AF_APPLETALK",
                "AF_NETBIOS",
                "AF_INET6",
                "AF_IRDA",
                "AF_BTH",
            ),
            "is_blocking": c_bool,
            "is_listening": c_bool,
            "options": c_dictionary(_INT, key_rx=_SOCKET_OPTION_RE),
            "socket_type": c_enum(
                "SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET"
            ),
            "socket_descriptor": _UINT,
            "socket_handle": _INT,
        },
        required=("address_family",),
    ),
    "tcp-ext": c_object(
        {"src_flags_hex": c_hex, "dst_flags_hex": c_hex}, any_of=("src_flags_hex", "dst_flags_hex")
    ),
}

_STARTUP_STR_RE = re.compile(
    r"^lpDesktop|lpTitle|dwFillAttribute|dwFlags|wShowWindow|hStdInput|hStdOutput|hStdError\Z"
)
_STARTUP_NULL_RE = re.compile(r"^lpReserved|lpReserved2\Z")
_STARTUP_INT_RE = re.compile(r"^cb|dwX|dwY|dwXSize|dwYSize|dwXCountChars|dwYCountChars\Z")
_STARTUP_ZERO_RE = re.compile(r"^cbReserved2\Z")
_startup_dictionary = c_dictionary()


def c_startup_info(v: Any) -> Err | None:
    e = _startup_dictionary(v)
    if e is not None:
        return e
    for k, x in v.items():
        s, n, i, z = (
            _STARTUP_STR_RE.search(k),
            _STARTUP_NULL_RE.search(k),
            _STARTUP_INT_RE.search(k),
            _STARTUP_ZERO_RE.search(k),
        )
        if not (s or n or i or z):
            return ("stix.property", _sub(k), f"{show(k)} is not a STARTUPINFO member")
        if (s and not isinstance(x, str)) or n or ((i or z) and not _is_int(x)) or (z and x != 0):
            return _v(f"{show(x)} is not valid for STARTUPINFO {k}", _sub(k))
    return None


PROCESS_EXTENSIONS: dict[str, Check] = {
    "windows-process-ext": c_object(
        {
            "aslr_enabled": c_bool,
            "dep_enabled": c_bool,
            "priority": _S,
            "owner_sid": _S,
            "window_title": _S,
            "startup_info": c_startup_info,
            "integrity_level": c_enum("low", "medium", "high", "system"),
        },
        any_of=(
            "aslr_enabled",
            "dep_enabled",
            "priority",
            "owner_sid",
            "window_title",
            "startup_info",
        ),
    ),
    "windows-service-ext": c_object(
        {
            "service_name": _S,
            "descriptions": c_strs,
            "display_name": _S,
            "group_name": _S,
            "start_type": c_enum(
                "SERVICE_AUTO_START",
                "SERVICE_BOOT_START",
                "SERVICE_DEMAND_START",
                "SERVICE_DISABLED",
                "SERVICE_SYSTEM_ALERT",
            ),
            "service_dll_refs": c_refs(("file",)),
            "service_type": c_enum(
                "SERVICE_KERNEL_DRIVER",
                "SERVICE_FILE_SYSTEM_DRIVER",
                "SERVICE_WIN32_OWN_PROCESS",
                "SERVICE_WIN32_SHARE_PROCESS",
            ),
            "service_status": c_enum(
                "SERVICE_CONTINUE_PENDING",
                "SERVICE_PAUSE_PENDING",
                "SERVICE_PAUSED",
                "SERVICE_RUNNING",
                "SERVICE_START_PENDING",
                "SERVICE_STOP_PENDING",
                "SERVICE_STOPPED",
            ),
        },
        any_of=(
            "service_name",
            "descriptions",
            "display_name",
            "group_name",
            "start_type",
            "service_dll_refs",
            "service_type",
            "service_status",
        ),
    ),
}

USER_ACCOUNT_EXTENSIONS: dict[str, Check] = {
    "unix-account-ext": c_object(
        {"gid": c_num(), "groups": c_strs, "home_dir": _S, "shell": _S},
        any_of=("gid", "groups", "home_dir", "shell"),
    ),
}


def _artifact_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    payload, url = "payload_bin" in obj, "url" in obj
    if payload == url or (url and "hashes" not in obj):
        ctx.add(
            "stix.required", ptr, "an artifact has either payload_bin, or url together with hashes"
        )
    if "decryption_key" in obj and "encryption_algorithm" not in obj:
        ctx.add(
            "stix.required",
            ptr + "/encryption_algorithm",
            "decryption_key needs encryption_algorithm",
        )


def _email_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    multipart = obj.get("is_multipart")
    if multipart is True and "body" in obj:
        ctx.add("stix.property", ptr + "/body", "a multipart message has body_multipart, not body")
    elif multipart is False and "body_multipart" in obj:
        ctx.add("stix.property", ptr + "/body_multipart", "body_multipart needs is_multipart: true")


def _network_traffic_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    if obj.get("is_active") is True and "end" in obj:
        ctx.add("stix.property", ptr + "/end", "active traffic (is_active: true) has no end")


_UA_FIELDS = (
    "extensions",
    "user_id",
    "credential",
    "account_login",
    "account_type",
    "display_name",
    "is_service_account",
    "is_privileged",
    "can_escalate_privs",
    "is_disabled",
    "account_created",
    "account_expires",
    "credential_last_changed",
    "account_first_login",
    "account_last_login",
)
_X509_FIELDS = (
    "is_self_signed",
    "hashes",
    "version",
    "serial_number",
    "signature_algorithm",
    "issuer",
    "validity_not_before",
    "validity_not_after",
    "subject",
    "subject_public_key_algorithm",
    "subject_public_key_modulus",
    "subject_public_key_exponent",
    "x509_v3_extensions",
)
_X509_V3: dict[str, Check] = {
    k: _S
    for k in (
        "basic_constraints",
        "name_constraints",
        "policy_constraints",
        "key_usage",
        "extended_key_usage",
        "subject_key_identifier",
        "authority_key_identifier",
        "subject_alternative_name",
        "issuer_alternative_name",
        "subject_directory_attributes",
        "crl_distribution_points",
        "inhibit_any_policy",
        "certificate_policies",
        "policy_mappings",
    )
}
_X509_V3["private_key_usage_period_not_before"] = c_ts
_X509_V3["private_key_usage_period_not_after"] = c_ts

SCO_SPECS: list[_Spec] = [
    _sco(
        "artifact",
        {
            "mime_type": c_search(_MIME_RE, "is not a MIME type"),
            "payload_bin": c_bin,
            "url": c_uri,
            "hashes": c_hashes,
            "encryption_algorithm": c_enum(
                "AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"
            ),
            "decryption_key": _S,
        },
        [],
        [_artifact_rule, _uuid4_unless("hashes", "payload_bin")],
    ),
    _sco("autonomous-system", {"number": _INT, "name": _S, "rir": _S}, ["number"]),
    _sco(
        "directory",
        {
            "path": _S,
            "path_enc": c_regex(_ENCODING_NAME_RE, "a character set name"),
            "ctime": c_ts,
            "mtime": c_ts,
            "atime": c_ts,
            "contains_refs": c_refs(("file", "directory")),
        },
        ["path"],
    ),
    _sco(
        "domain-name",
        {
            "value": c_hostname,
            "resolves_to_refs": c_refs(("ipv4-addr", "ipv6-addr", "domain-name")),
        },
        ["value"],
    ),
    _sco(
        "email-addr",
        {"value": c_email, "display_name": _S, "belongs_to_ref": c_ref(("user-account",))},
        ["value"],
    ),
    _sco(
        "email-message",
        {
            "is_multipart": c_bool,
            "date": c_ts,
            "content_type": _S,
            "from_ref": c_ref(("email-addr",)),
            "sender_ref": c_ref(("email-addr",)),
            "to_refs": c_refs(("email-addr",)),
            "cc_refs": c_refs(("email-addr",)),
            "bcc_refs": c_refs(("email-addr",)),
            "message_id": _S,
            "subject": _S,
            "received_lines": c_strs,
            "additional_header_fields": c_additional_header_fields,
            "body": _S,
            "body_multipart": c_list(c_mime_part),
            "raw_email_ref": c_ref(("artifact",)),
        },
        ["is_multipart"],
        [_email_rule, _uuid4_unless("from_ref", "subject", "body")],
    ),
    _sco(
        "file",
        {
            "extensions": c_sco_extensions(FILE_EXTENSIONS),
            "hashes": c_hashes,
            "size": _UINT,
            "name": _S,
            "name_enc": c_regex(_ENCODING_NAME_RE, "a character set name"),
            "magic_number_hex": c_hex,
            "mime_type": _S,
            "ctime": c_ts,
            "mtime": c_ts,
            "atime": c_ts,
            "parent_directory_ref": c_ref(("directory",)),
            "contains_refs": c_refs(),
            "content_ref": c_ref(("artifact",)),
        },
        [],
        [_require_any("hashes", "name")],
    ),
    _sco(
        "ipv4-addr",
        {
            "value": c_ipv4,
            "resolves_to_refs": c_refs(("mac-addr",)),
            "belongs_to_refs": c_refs(("autonomous-system",)),
        },
        ["value"],
    ),
    _sco(
        "ipv6-addr",
        {
            "value": c_ipv6,
            "resolves_to_refs": c_refs(("mac-addr",)),
            "belongs_to_refs": c_refs(("autonomous-system",)),
        },
        ["value"],
    ),
    _sco("mac-addr", {"value": c_mac}, ["value"]),
    _sco("mutex", {"name": _S}, ["name"]),
    _sco(
        "network-traffic",
        {
            "extensions": c_sco_extensions(NETWORK_TRAFFIC_EXTENSIONS),
            "start": c_ts,
            "end": c_ts,
            "is_active": c_bool,
            "src_ref": c_ref(_HOSTS),
            "dst_ref": c_ref(_HOSTS),
            "src_port": c_int(0, 65535),
            "dst_port": c_int(0, 65535),
            "protocols": c_strs,
            "src_byte_count": _INT,
            "dst_byte_count": _INT,
            "src_packets": _INT,
            "dst_packets": _INT,
            "ipfix": c_dictionary(c_str_or_int),
            "src_payload_ref": c_ref(("artifact",)),
            "dst_payload_ref": c_ref(("artifact",)),
            "encapsulates_refs": c_refs(("network-traffic",)),
            "encapsulated_by_ref": c_ref(("network-traffic",)),
        },
        ["protocols"],
        [_require_any("src_ref", "dst_ref"), _network_traffic_rule, _order("end", ">=", "start")],
    ),
    _sco(
        "process",
        {
            "extensions": c_sco_extensions(PROCESS_EXTENSIONS),
            "is_hidden": c_bool,
            "pid": _INT,
            "created_time": c_ts,
            "cwd": _S,
            "command_line": _S,
            "environment_variables": c_dictionary(),
            "opened_connection_refs": c_refs(("network-traffic",)),
            "creator_user_ref": c_ref(("user-account",)),
            "image_ref": c_ref(("file",)),
            "parent_ref": c_ref(("process",)),
            "child_refs": c_refs(("process",)),
        },
        [],
        [
            _require_any(
                "extensions",
                "is_hidden",
                "pid",
                "name",
                "created",
                "cwd",
                "arguments",
                "command_line",
                "environment_variables",
                "opened_connection_refs",
                "creator_user_ref",
                "image_ref",
                "parent_ref",
                "child_refs",
            ),
            _uuid4_unless(),
        ],
    ),
    _sco(
        "software",
        {
            "name": _S,
            "cpe": c_search(_CPE_RE, "is not a CPE 2.3 name"),
            "swid": _S,
            "languages": c_list(c_regex(_SOFTWARE_LANG_RE, "a language code")),
            "vendor": _S,
            "version": _S,
        },
        ["name"],
    ),
    _sco("url", {"value": c_uri}, ["value"]),
    _sco(
        "user-account",
        {
            "extensions": c_sco_extensions(USER_ACCOUNT_EXTENSIONS),
            "user_id": _S,
            "credential": _S,
            "account_login": _S,
            "account_type": _S,
            "display_name": _S,
            "is_service_account": c_bool,
            "is_privileged": c_bool,
            "can_escalate_privs": c_bool,
            "is_disabled": c_bool,
            "account_created": c_ts,
            "account_expires": c_ts,
            "credential_last_changed": c_ts,
            "account_first_login": c_ts,
            "account_last_login": c_ts,
        },
        [],
        [_require_any(*_UA_FIELDS), _uuid4_unless("account_type", "user_id", "account_login")],
    ),
    _sco(
        "windows-registry-key",
        {
            "key": c_search(
                _REGISTRY_ABBREVIATION_RE,
                "uses an abbreviated hive name (write HKEY_LOCAL_MACHINE etc.)",
                negate=True,
            ),
            "values": c_list(c_registry_value),
            "modified_time": c_ts,
            "creator_user_ref": c_ref(("user-account",)),
            "number_of_subkeys": _INT,
        },
        [],
        [
            _require_any("key", "values", "modified", "creator_user_ref", "number_of_subkeys"),
            _uuid4_unless("key", "values"),
        ],
    ),
    _sco(
        "x509-certificate",
        {
            "is_self_signed": c_bool,
            "hashes": c_hashes,
            "version": _S,
            "serial_number": _S,
            "signature_algorithm": _S,
            "issuer": _S,
            "validity_not_before": c_ts,
            "validity_not_after": c_ts,
            "subject": _S,
            "subject_public_key_algorithm": _S,
            "subject_public_key_modulus": _S,
            "subject_public_key_exponent": _INT,
            "x509_v3_extensions": c_object(_X509_V3, any_of=tuple(_X509_V3)),
        },
        [],
        [_require_any(*_X509_FIELDS), _uuid4_unless("hashes", "serial_number")],
    ),
]


