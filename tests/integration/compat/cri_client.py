#!/usr/bin/python3
"""A minimal client of the Kubernetes CRI v1 runtime service (gRPC), for the
tests that drive containerd's CRI plugin without crictl (which Debian does
not package).

    cri_client.py SOCKET METHOD < request.json > response.json

The request is a JSON object with the field names below; the response is
printed as JSON (bytes fields as text, maps as objects, enums as numbers,
fields left out on the wire as their zero values).
On a gRPC error it prints "METHOD: CODE: details" on stderr and exits 1.

The messages are encoded by hand (pbwire.py) from the table below (field numbers and
wire types are the protocol; only the fields the tests use are listed), so
the only package needed is Debian's python3-grpcio, whose channel passes raw
bytes through when no serializer is given.
"""
import json
import sys

import grpc

from pbwire import raw_fields, varint

# ---- the messages: field number -> (name, type, repeated) ----
# types: string, bytes, bool, int (int64/int32/uint32, signed on decode),
# enum (a number), map (map<string,string>), or another message's name
MESSAGES = {
    "Empty": {},
    "VersionRequest": {1: ("version", "string", False)},
    "VersionResponse": {
        1: ("version", "string", False),
        2: ("runtime_name", "string", False),
        3: ("runtime_version", "string", False),
        4: ("runtime_api_version", "string", False),
    },
    "PodSandboxMetadata": {
        1: ("name", "string", False),
        2: ("uid", "string", False),
        3: ("namespace", "string", False),
        4: ("attempt", "int", False),
    },
    # NamespaceMode: POD 0, CONTAINER 1, NODE 2, TARGET 3
    "NamespaceOption": {
        1: ("network", "enum", False),
        2: ("pid", "enum", False),
        3: ("ipc", "enum", False),
        4: ("target_id", "string", False),
    },
    "LinuxSandboxSecurityContext": {1: ("namespace_options", "NamespaceOption", False)},
    "LinuxPodSandboxConfig": {
        1: ("cgroup_parent", "string", False),
        2: ("security_context", "LinuxSandboxSecurityContext", False),
    },
    "PodSandboxConfig": {
        1: ("metadata", "PodSandboxMetadata", False),
        2: ("hostname", "string", False),
        3: ("log_directory", "string", False),
        6: ("labels", "map", False),
        7: ("annotations", "map", False),
        8: ("linux", "LinuxPodSandboxConfig", False),
    },
    "RunPodSandboxRequest": {
        1: ("config", "PodSandboxConfig", False),
        2: ("runtime_handler", "string", False),
    },
    "RunPodSandboxResponse": {1: ("pod_sandbox_id", "string", False)},
    "PodSandboxRequest": {1: ("pod_sandbox_id", "string", False)},
    "PodSandboxStatusRequest": {
        1: ("pod_sandbox_id", "string", False),
        2: ("verbose", "bool", False),
    },
    # PodSandboxState: SANDBOX_READY 0, SANDBOX_NOTREADY 1
    "PodSandboxStatus": {
        1: ("id", "string", False),
        3: ("state", "enum", False),
        4: ("created_at", "int", False),
    },
    "PodSandboxStatusResponse": {
        1: ("status", "PodSandboxStatus", False),
        2: ("info", "map", False),
    },
    "PodSandbox": {1: ("id", "string", False), 3: ("state", "enum", False)},
    "ListPodSandboxResponse": {1: ("items", "PodSandbox", True)},
    "ContainerMetadata": {1: ("name", "string", False), 2: ("attempt", "int", False)},
    "ImageSpec": {1: ("image", "string", False)},
    "KeyValue": {1: ("key", "string", False), 2: ("value", "string", False)},
    "LinuxContainerResources": {
        1: ("cpu_period", "int", False),
        2: ("cpu_quota", "int", False),
        3: ("cpu_shares", "int", False),
        4: ("memory_limit_in_bytes", "int", False),
    },
    "LinuxContainerSecurityContext": {3: ("namespace_options", "NamespaceOption", False)},
    "LinuxContainerConfig": {
        1: ("resources", "LinuxContainerResources", False),
        2: ("security_context", "LinuxContainerSecurityContext", False),
    },
    "ContainerConfig": {
        1: ("metadata", "ContainerMetadata", False),
        2: ("image", "ImageSpec", False),
        3: ("command", "string", True),
        4: ("args", "string", True),
        5: ("working_dir", "string", False),
        6: ("envs", "KeyValue", True),
        11: ("log_path", "string", False),
        15: ("linux", "LinuxContainerConfig", False),
    },
    "CreateContainerRequest": {
        1: ("pod_sandbox_id", "string", False),
        2: ("config", "ContainerConfig", False),
        3: ("sandbox_config", "PodSandboxConfig", False),
    },
    "CreateContainerResponse": {1: ("container_id", "string", False)},
    "ContainerRequest": {1: ("container_id", "string", False)},
    "StopContainerRequest": {
        1: ("container_id", "string", False),
        2: ("timeout", "int", False),
    },
    "ContainerStatusRequest": {
        1: ("container_id", "string", False),
        2: ("verbose", "bool", False),
    },
    # ContainerState: CREATED 0, RUNNING 1, EXITED 2, UNKNOWN 3
    "ContainerStatus": {
        1: ("id", "string", False),
        2: ("metadata", "ContainerMetadata", False),
        3: ("state", "enum", False),
        4: ("created_at", "int", False),
        5: ("started_at", "int", False),
        6: ("finished_at", "int", False),
        7: ("exit_code", "int", False),
        10: ("reason", "string", False),
        11: ("message", "string", False),
        15: ("log_path", "string", False),
    },
    "ContainerStatusResponse": {
        1: ("status", "ContainerStatus", False),
        2: ("info", "map", False),
    },
    "Container": {
        1: ("id", "string", False),
        2: ("pod_sandbox_id", "string", False),
        6: ("state", "enum", False),
    },
    "ListContainersResponse": {1: ("containers", "Container", True)},
    "ExecSyncRequest": {
        1: ("container_id", "string", False),
        2: ("cmd", "string", True),
        3: ("timeout", "int", False),
    },
    "ExecSyncResponse": {
        1: ("stdout", "bytes", False),
        2: ("stderr", "bytes", False),
        3: ("exit_code", "int", False),
    },
    "UpdateContainerResourcesRequest": {
        1: ("container_id", "string", False),
        2: ("linux", "LinuxContainerResources", False),
    },
    "UInt64Value": {1: ("value", "int", False)},
    "CpuUsage": {
        1: ("timestamp", "int", False),
        2: ("usage_core_nano_seconds", "UInt64Value", False),
    },
    "MemoryUsage": {
        1: ("timestamp", "int", False),
        2: ("working_set_bytes", "UInt64Value", False),
        4: ("usage_bytes", "UInt64Value", False),
    },
    "ContainerAttributes": {1: ("id", "string", False)},
    "ContainerStats": {
        1: ("attributes", "ContainerAttributes", False),
        2: ("cpu", "CpuUsage", False),
        3: ("memory", "MemoryUsage", False),
    },
    "ContainerStatsResponse": {1: ("stats", "ContainerStats", False)},
}

# ---- the methods of runtime.v1.RuntimeService: request, response ----
METHODS = {
    "Version": ("VersionRequest", "VersionResponse"),
    "RunPodSandbox": ("RunPodSandboxRequest", "RunPodSandboxResponse"),
    "StopPodSandbox": ("PodSandboxRequest", "Empty"),
    "RemovePodSandbox": ("PodSandboxRequest", "Empty"),
    "PodSandboxStatus": ("PodSandboxStatusRequest", "PodSandboxStatusResponse"),
    "ListPodSandbox": ("Empty", "ListPodSandboxResponse"),
    "CreateContainer": ("CreateContainerRequest", "CreateContainerResponse"),
    "StartContainer": ("ContainerRequest", "Empty"),
    "StopContainer": ("StopContainerRequest", "Empty"),
    "RemoveContainer": ("ContainerRequest", "Empty"),
    "ContainerStatus": ("ContainerStatusRequest", "ContainerStatusResponse"),
    "ListContainers": ("Empty", "ListContainersResponse"),
    "ExecSync": ("ExecSyncRequest", "ExecSyncResponse"),
    "UpdateContainerResources": ("UpdateContainerResourcesRequest", "Empty"),
    "ContainerStats": ("ContainerRequest", "ContainerStatsResponse"),
}

SCALARS = ("string", "bytes", "bool", "int", "enum")


def encode_one(num, kind, value):
    if kind in ("bool", "int", "enum"):
        return varint(num << 3) + varint(int(value))
    if kind in ("string", "bytes"):
        data = value.encode() if isinstance(value, str) else bytes(value)
    elif kind == "map":
        raise AssertionError("maps are encoded by encode()")
    else:
        data = encode(kind, value)
    return varint(num << 3 | 2) + varint(len(data)) + data


def encode(message, obj):
    fields = MESSAGES[message]
    by_name = {name: (num, kind, rep) for num, (name, kind, rep) in fields.items()}
    out = b""
    for name, value in obj.items():
        if name not in by_name:
            sys.exit("%s has no field %s" % (message, name))
        num, kind, rep = by_name[name]
        if kind == "map":
            for k, v in value.items():
                entry = encode_one(1, "string", k) + encode_one(2, "string", v)
                out += varint(num << 3 | 2) + varint(len(entry)) + entry
        elif rep:
            for v in value:
                out += encode_one(num, kind, v)
        else:
            out += encode_one(num, kind, value)
    return out


DEFAULTS = {"string": "", "bytes": "", "bool": False, "int": 0, "enum": 0}


def decode(message, data):
    """A dict with every field of the table: proto3 leaves out zero values,
    which read back as their defaults ({} for an absent message)."""
    fields = MESSAGES[message]
    out = {}
    for name, kind, rep in fields.values():
        if rep:
            out[name] = []
        elif kind == "map":
            out[name] = {}
        elif kind in DEFAULTS:
            out[name] = DEFAULTS[kind]
    for num, _, v in raw_fields(data):
        if num not in fields:
            continue
        name, kind, rep = fields[num]
        if kind == "map":
            entry = {n: val for n, _, val in raw_fields(v)}
            out[name][entry.get(1, b"").decode()] = entry.get(2, b"").decode(errors="replace")
            continue
        if kind in ("string", "bytes"):
            value = v.decode(errors="replace")
        elif kind == "bool":
            value = bool(v)
        elif kind in ("int", "enum"):
            value = v - (1 << 64) if v >= 1 << 63 else v
        else:
            value = decode(kind, v)
        if rep:
            out[name].append(value)
        else:
            out[name] = value
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in METHODS:
        sys.exit("usage: cri_client.py SOCKET METHOD < request.json (METHOD: %s)" % ", ".join(METHODS))
    socket_path, method = sys.argv[1:3]
    req_type, resp_type = METHODS[method]
    text = sys.stdin.read().strip()
    request = encode(req_type, json.loads(text) if text else {})
    with grpc.insecure_channel("unix://" + socket_path) as channel:
        call = channel.unary_unary("/runtime.v1.RuntimeService/" + method)
        try:
            response = call(request, timeout=120)
        except grpc.RpcError as e:
            sys.stderr.write("%s: %s: %s\n" % (method, e.code().name, e.details()))
            sys.exit(1)
    json.dump(decode(resp_type, response), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
