"""CIDR arithmetic (go-cty-funcs ``cidr*`` on top of Go's ``net.ParseCIDR``)."""

from __future__ import annotations

import ipaddress
from decimal import Decimal

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import int_arg
from bakec.bake.hcl.types import NUMBER, STRING
from bakec.bake.hcl.values import HList

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_cidr(prefix: str, arg: int | None = None) -> Network:
    """Go's ``net.ParseCIDR``: host bits are allowed and masked off."""
    try:
        if "/" not in prefix or not prefix.split("/", 1)[1].isdigit():
            raise ValueError
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise FunctionError(f"invalid CIDR expression: invalid CIDR address: {prefix}", arg=arg) from None


def _address(value: int, version: int) -> str:
    return str(ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value))


@function("cidrhost", Param("prefix", STRING), Param("hostnum", NUMBER))
def cidrhost(prefix: str, hostnum: Decimal) -> str:
    """The address of host number ``hostnum`` in the prefix (negative counts from the end)."""
    num = int_arg(hostnum)
    network = _parse_cidr(prefix)
    host_bits = network.max_prefixlen - network.prefixlen
    max_host = (1 << host_bits) - 1
    magnitude = num
    if num < 0:
        magnitude = -num - 1
        num = max_host - magnitude
    if magnitude > max_host:
        raise FunctionError(f"prefix of {network.prefixlen} does not accommodate a host numbered {num}")
    return _address(int(network.network_address) | num, network.version)


@function("cidrnetmask", Param("prefix", STRING))
def cidrnetmask(prefix: str) -> str:
    """The network mask of a prefix in dotted (or IPv6) notation."""
    return str(_parse_cidr(prefix).netmask)


def _subnet(network: Network, newbits: int, netnum: int) -> str:
    new_len = network.prefixlen + newbits
    if new_len > network.max_prefixlen:
        raise FunctionError(
            f"insufficient address space to extend prefix of {network.prefixlen} by {newbits}"
        )
    if netnum < 0 or netnum > (1 << newbits) - 1:
        raise FunctionError(f"prefix extension of {newbits} does not accommodate a subnet numbered {netnum}")
    base = int(network.network_address) | (netnum << (network.max_prefixlen - new_len))
    return f"{_address(base, network.version)}/{new_len}"


@function("cidrsubnet", Param("prefix", STRING), Param("newbits", NUMBER), Param("netnum", NUMBER))
def cidrsubnet(prefix: str, newbits: Decimal, netnum: Decimal) -> str:
    """Subnet number ``netnum`` of the prefix extended by ``newbits`` bits."""
    bits = int_arg(newbits)
    num = int_arg(netnum)
    network = _parse_cidr(prefix)
    if bits > 32:
        raise FunctionError("may not extend prefix by more than 32 bits")
    if bits < 0:
        raise FunctionError(f"insufficient address space to extend prefix of {network.prefixlen} by {bits}")
    return _subnet(network, bits, num)


@function("cidrsubnets", Param("prefix", STRING), variadic=Param("newbits", NUMBER))
def cidrsubnets(prefix: str, *newbits: Decimal) -> HList:
    """Consecutive, non-overlapping subnets of the prefix, one per ``newbits`` value."""
    network = _parse_cidr(prefix, arg=0)
    if not newbits:
        return HList()
    total = network.max_prefixlen
    base = int(network.network_address)
    mask_all = (1 << total) - 1

    def masked(value: int, length: int) -> int:
        return value & (mask_all ^ ((1 << (total - length)) - 1))

    def text(addr: int, length: int) -> str:
        return f"{_address(addr, network.version)}/{length}"

    # Out-of-range lengths are reported by the loop below; clamp so the setup cannot fail first.
    first = min(max(int_arg(newbits[0], arg=1), 0) + network.prefixlen, total)
    # go-cidr's PreviousSubnet: the block of the first length just below the base.
    current = (masked((base - 1) & mask_all, first), first)
    out: list[str] = []
    for i, bits_value in enumerate(newbits):
        bits = int_arg(bits_value, arg=i + 1)
        if bits < 1:
            raise FunctionError("must extend prefix by at least one bit", arg=i + 1)
        if bits > 32:
            raise FunctionError("may not extend prefix by more than 32 bits", arg=i + 1)
        length = bits + network.prefixlen
        if length > total:
            protocol = "IPv4" if network.version == 4 else "IPv6"
            raise FunctionError(
                f"would extend prefix to {length} bits, which is too long for an {protocol} address",
                arg=i + 1,
            )
        # go-cidr's NextSubnet: the first block of `length` after the current block.
        last = current[0] | ((1 << (total - current[1])) - 1)
        last = masked(last, length) | ((1 << (total - length)) - 1)
        following = (last + 1) & mask_all
        candidate = masked(following, length)
        if following == 0 or masked(candidate, network.prefixlen) != base:
            raise FunctionError(
                f"not enough remaining address space for a subnet with a prefix of {length} bits after "
                f"{text(*current)}",
                arg=i + 1,
            )
        current = (candidate, length)
        out.append(text(*current))
    return HList(out)
