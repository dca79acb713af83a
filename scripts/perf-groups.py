#!/usr/bin/env python3
"""Groups the samples of a `perf record --call-graph dwarf` profile of music-gateway or
music-service by the component they were spent in (see BENCHMARKS.md, "Profile").

    perf script -i perf.data -F ip,sym,dso --no-demangle | python3 scripts/perf-groups.py

Each sample goes to the first group, in this order, that any frame of its stack belongs to:
the embedded store (dynoxide and SQLite, including its HTTP server's connection tasks), the
aws-sdk-dynamodb client (including its HTTP/1 connection task), the gRPC layer (tonic, h2, the
service's handlers), the gateway (its HTTP/1 server, axum, its middleware and handlers), else the
runtime. Mangled names are read so that the HTTP/1 server connections of the gateway and of
dynoxide, which demangle to the same text, can be told apart by their monomorphization hash.
Percentages are of all samples of the process.
"""

import collections
import re
import sys

SERVER_CONNECTION = re.compile(
    r"(axum5serve17handle_connection|h18dispatch32Dispatcher.*10poll_catch).*?17h([0-9a-f]{16})E"
)
SDK = ("aws_smithy", "aws_sdk_dynamodb", "aws_sigv4", "aws_runtime", "aws_types", "client4conn5http1", "client..conn..http1")
STORE = ("8dynoxide", "sqlite3", "yy_reduce")
H2 = re.compile(r"(?<![0-9])2h2[0-9]|5proto2h2|\bh2\.\.")
HTTP1_CLIENT = ("client4conn5http1", "client..conn..http1")


def samples(lines):
    stack = []
    for line in lines:
        if not line.strip():
            if stack:
                yield stack
            stack = []
            continue
        parts = line.strip().split(" ", 1)
        stack.append(parts[1] if len(parts) > 1 else "")
    if stack:
        yield stack


def has(stack, *keys):
    return any(key in frame for frame in stack for key in keys)


def connection_keys(stack):
    return {m.group(2) for frame in stack for m in [SERVER_CONNECTION.search(frame)] if m}


def main():
    stacks = list(samples(sys.stdin))
    if not stacks:
        sys.exit("no samples on stdin")
    # The HTTP/1 client connection is the SDK's (nothing else here speaks HTTP/1 as a client);
    # an HTTP/1 server connection is dynoxide's when dynoxide's code runs under it. Stacks that
    # were cut short keep only the connection's frame, hence the keys.
    client_connections = set()
    for stack in stacks:
        if has(stack, *HTTP1_CLIENT):
            client_connections |= connection_keys(stack)
    seen, with_store = collections.Counter(), collections.Counter()
    for stack in stacks:
        if has(stack, *SDK):
            continue
        for key in connection_keys(stack) - client_connections:
            seen[key] += 1
            with_store[key] += has(stack, *STORE)
    store_connections = {k for k in seen if with_store[k] / seen[k] > 0.2}

    groups, details, cross = collections.Counter(), collections.defaultdict(collections.Counter), collections.Counter()
    for stack in stacks:
        if has(stack, *STORE) or (connection_keys(stack) & store_connections):
            group = "embedded store: dynoxide (HTTP server, JSON) + SQLite"
            if has(stack, *STORE[1:]):
                detail = "SQLite"
            elif has(stack, "serde_json"):
                detail = "JSON"
            elif has(stack, "entry_SYSCALL"):
                detail = "syscalls (loopback TCP)"
            else:
                detail = "HTTP server, routing, other"
        elif has(stack, *SDK) or (connection_keys(stack) & client_connections):
            group = "aws-sdk-dynamodb client"
            if has(stack, "aws_sigv4", "sign_request"):
                detail = "SigV4 signing"
            elif has(stack, *HTTP1_CLIENT, "hyper_util6client", "aws_smithy_http_client") or (
                connection_keys(stack) & client_connections
            ):
                detail = "HTTP/1 client, connection pool, syscalls"
            elif has(stack, "Interceptors", "Interceptor"):
                detail = "interceptor hooks"
            elif has(stack, "config_bag", "ConfigBag", "RuntimeComponents", "runtime_components", "endpoint"):
                detail = "config bag, runtime components, endpoint resolution"
            elif has(stack, "protocol_serde", "aws_smithy_json", "serde_json"):
                detail = "(de)serialization"
            else:
                detail = "orchestrator, retries, timeouts, other"
        elif has(stack, "5tonic", "13music_service") or any(H2.search(frame) for frame in stack):
            group = "gRPC layer: tonic, h2, service handlers"
            if has(stack, "5prost", "5codec"):
                detail = "tonic codec (protobuf, framing, body)"
            elif has(stack, "entry_SYSCALL"):
                detail = "syscalls"
            else:
                detail = "h2, routing, handlers"
        elif has(stack, "13music_gateway", "4axum", "5hyper"):
            group = "HTTP/1 server (hyper, axum): the gateway's middleware and handler"
            if has(stack, "entry_SYSCALL"):
                detail = "syscalls (read/write)"
            elif has(stack, "4uuid", "random_hex"):
                detail = "request and trace ids (uuid v4, getrandom)"
            elif any("13music_gateway" in f and "serve_connections" not in f for f in stack):
                # serve_connections is only the root of each connection's task.
                detail = "middleware and handler code"
            else:
                detail = "hyper/axum plumbing"
        else:
            group = "runtime, scheduler, other"
            detail = "-"
        groups[group] += 1
        details[group][detail] += 1
        leaf = stack[0]
        if re.search(r"\b(_int_malloc|_int_free|malloc|cfree|free|realloc|_int_realloc|malloc_consolidate|unlink_chunk|tcache_get)\b", leaf) or "rdl_alloc" in leaf:
            cross["malloc/free (self time)"] += 1
        if "memmove" in leaf or "memcpy" in leaf:
            cross["memmove/memcpy (self time)"] += 1
        for name, keys in [
            ("in system calls", ("entry_SYSCALL",)),
            ("getrandom system calls", ("sys_getrandom",)),
            ("SigV4 (aws_sigv4)", ("aws_sigv4",)),
            ("SQLite", ("sqlite3", "yy_reduce")),
            ("serde_json", ("serde_json",)),
            ("tracing subscriber", ("tracing_subscriber", "tracing_core")),
            ("metrics", ("7metrics", "metrics_exporter_prometheus")),
        ]:
            if has(stack, *keys):
                cross[name + " (inclusive)"] += 1

    total = len(stacks)
    print(f"{total} samples")
    for group, n in groups.most_common():
        print(f"{100 * n / total:5.1f} %  {group}")
        for detail, m in details[group].most_common():
            print(f"           {100 * m / total:5.1f} %  {detail}")
    print("across groups:")
    for name, n in cross.most_common():
        print(f"{100 * n / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
