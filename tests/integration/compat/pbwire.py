"""Protobuf wire format by hand, for the test clients that speak to the shim
(ttrpc, shim.bats) and to containerd's CRI plugin (gRPC, cri_client.py)
without generated code: varints, length-delimited fields, and decoding a
message into its fields."""


def varint(n):
    """n as a varint (negative numbers take ten bytes, as int64 does)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(data, i):
    """The varint at data[i:]: (value, index after it)."""
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def field(num, value):
    """One field: bool and int as varints, str and bytes length-delimited
    (an encoded message is bytes)."""
    if isinstance(value, int):
        return varint(num << 3) + varint(int(value))
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + bytes(value)


def raw_fields(data):
    """(number, wire type, value) for each field of a message, in order;
    varints as ints, the others as bytes."""
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        wire = key & 7
        if wire == 0:
            v, i = read_varint(data, i)
        elif wire == 2:
            n, i = read_varint(data, i)
            v, i = data[i : i + n], i + n
        elif wire == 1:
            v, i = data[i : i + 8], i + 8
        elif wire == 5:
            v, i = data[i : i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield key >> 3, wire, v


def fields(data):
    """number -> value of a message's fields (the last one of repeated ones)."""
    return {num: v for num, _, v in raw_fields(data)}
