#!/usr/bin/env python3
"""Regenerates fuzz/seeds/<target>/ from the repository's own tests, fixtures and examples.

Text seeds are the string literals of the tests that exercise each parser (plus the example
projects' files); binary seeds (image archives, layers, DNS packets) are built here, small and
deterministic. Run from anywhere: `python3 fuzz/make-seeds.py`. Output is stable, so a rerun
with unchanged tests leaves git clean.
"""

import glob
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import tarfile

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
SEEDS = os.path.join(FUZZ, "seeds")
MAX_SEED = 64 * 1024
MAX_PER_TARGET = 300

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def unescape(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in ESCAPES:
            out.append(ESCAPES[n])
            i += 2
        elif n == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif n == "u":
            end = body.index("}", i)
            out.append(chr(int(body[i + 3 : end], 16)))
            i = end + 1
        elif n == "\n":  # line continuation: skip the newline and leading whitespace
            i += 2
            while i < len(body) and body[i] in " \t\n":
                i += 1
        else:
            out.append(n)
            i += 2
    return "".join(out)


LITERAL = re.compile(r'(?<![A-Za-z0-9_\'])(?:r(#*)"(.*?)"\1|b?"((?:[^"\\]|\\.)*)")', re.S)


def literals(path):
    """The string literals of a Rust file, unescaped."""
    text = open(path, encoding="utf-8").read()
    for m in LITERAL.finditer(text):
        if m.group(2) is not None:
            yield m.group(2)
        else:
            try:
                yield unescape(m.group(3))
            except (ValueError, IndexError):
                continue


def files(*patterns):
    out = []
    for p in patterns:
        out.extend(sorted(glob.glob(os.path.join(ROOT, p), recursive=True)))
    return out


def read(path):
    return open(path, "rb").read()


class Target:
    def __init__(self, name):
        self.name = name
        self.seeds = {}

    def add(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) <= MAX_SEED and len(self.seeds) < MAX_PER_TARGET:
            self.seeds[hashlib.sha1(data).hexdigest()[:16]] = data

    def write(self):
        d = os.path.join(SEEDS, self.name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in sorted(self.seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{self.name}: {len(self.seeds)} seeds")


# ---- text targets ---------------------------------------------------------------------------


def compose_load(t):
    projects = sorted(set(os.path.dirname(p) for p in files("examples/**/compose.yaml", "tests/kube/**/compose.yaml")))
    for d in projects:
        env = read(os.path.join(d, ".env")) if os.path.exists(os.path.join(d, ".env")) else b""
        t.add(env + b"\0" + read(os.path.join(d, "compose.yaml")))
    yamls = []
    for path in files("tests/*.rs", "src/model/**/*.rs", "src/stack/**/*.rs", "src/kube/**/*.rs"):
        for s in literals(path):
            if "services:" in s or s.startswith(("name:", "include:", "networks:", "volumes:")):
                yamls.append(s)
    yamls = sorted(set(yamls))
    # Alone, and in pairs (a base and an override), so merging is seeded too.
    for i, y in enumerate(yamls):
        t.add("\0" + y)
        if i + 1 < len(yamls) and i % 3 == 0:
            t.add("TAG=1\nPORT=8080\n\0" + y + "\0" + yamls[i + 1])


def dotenv(t):
    for p in files("examples/**/.env", "tests/kube/**/*.env"):
        t.add(read(p))
    for p in files("src/model/dotenv*.rs", "src/model/environment.rs"):
        for s in literals(p):
            if "=" in s:
                t.add(s)


def dockerfile(t):
    for p in files("src/build/**/*.rs", "tests/build*.rs", "tests/image_commit.rs"):
        for s in literals(p):
            if re.search(r"(?im)^\s*from\s", s) or s.startswith("# escape") or s.startswith("# syntax"):
                t.add(s)


REF = re.compile(r"^[A-Za-z0-9._:/@+-]{1,200}$")


def reference(t):
    for p in files("src/engine/image/reference.rs", "src/engine/image/tests.rs", "tests/image_*.rs", "tests/registry_*.rs"):
        for s in literals(p):
            if REF.match(s):
                t.add(s)


def units(t):
    for sel, path in enumerate(["src/model/types/ports.rs", "src/model/types/duration.rs", "src/model/types/bytes.rs"]):
        for s in literals(os.path.join(ROOT, path)):
            if 0 < len(s) < 64 and "\n" not in s and "{" not in s:
                t.add(bytes([sel]) + s.encode("utf-8"))


# ---- binary targets -------------------------------------------------------------------------


def dns_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(t):
    types = {"A": 1, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "ANY": 255}
    names = ["web", "web.", "WEB-1", "db", "alias", "example.org", "2.0.0.10.in-addr.arpa",
             "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"]
    for i, name in enumerate(names):
        for tname, ty in types.items():
            q = struct.pack(">HHHHHH", 0x1000 + i, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack(">HH", ty, 1)
            t.add(bytes([i & 1]) + q)
    # EDNS (OPT record with a 512-byte payload), a non-IN class, an opcode other than QUERY,
    # two questions, a compressed name, and a response.
    q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 1) + dns_name("web") + struct.pack(">HH", 1, 1)
    t.add(b"\0" + q + b"\0" + struct.pack(">HHIH", 41, 512, 0, 0))
    t.add(b"\0" + struct.pack(">HHHHHH", 8, 0x0100, 1, 0, 0, 0) + dns_name("web") + struct.pack(">HH", 1, 3))
    t.add(b"\0" + struct.pack(">HHHHHH", 9, 0x2100, 1, 0, 0, 0) + dns_name("web") + struct.pack(">HH", 1, 1))
    t.add(b"\1" + struct.pack(">HHHHHH", 10, 0x0100, 2, 0, 0, 0) + dns_name("web") + struct.pack(">HH", 1, 1)
          + b"\xc0\x0c" + struct.pack(">HH", 28, 1))
    t.add(b"\0" + struct.pack(">HHHHHH", 11, 0x8180, 1, 0, 0, 0) + dns_name("web") + struct.pack(">HH", 1, 1))


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    """A deterministic tar of (TarInfo fields, data) pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for fields, data in members:
            info = tarfile.TarInfo(fields.pop("name"))
            info.mtime = 1700000000
            info.mode = 0o644
            for k, v in fields.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return buf.getvalue()


def layer_members():
    return [
        ({"name": "etc", "type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ({"name": "etc/passwd", "uid": 0, "gid": 0}, b"root:x:0:0:root:/root:/bin/sh\n"),
        ({"name": "bin", "type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ({"name": "bin/sh", "mode": 0o755}, b"#!fake\n"),
        ({"name": "bin/ls", "type": tarfile.SYMTYPE, "linkname": "sh"}, None),
        ({"name": "bin/cat", "type": tarfile.LNKTYPE, "linkname": "bin/sh"}, None),
        ({"name": "tmp", "type": tarfile.DIRTYPE, "mode": 0o1777}, None),
    ]


def gz(data):
    return gzip.compress(data, mtime=0)


def layer_unpack(t):
    base = tar_bytes(layer_members())
    t.add(base)
    t.add(gz(base))
    t.add(tar_bytes(layer_members(), fmt=tarfile.GNU_FORMAT))
    t.add(tar_bytes(layer_members(), fmt=tarfile.USTAR_FORMAT))
    t.add(tar_bytes([
        ({"name": "etc", "type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ({"name": "etc/.wh.passwd"}, b""),
        ({"name": "var/.wh..wh..opq"}, b""),
        ({"name": "dev/null", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None),
        ({"name": "fifo", "type": tarfile.FIFOTYPE}, None),
        ({"name": "x", "pax_headers": {"SCHILY.xattr.user.k": "v", "mtime": "1.5"}}, b"x"),
        ({"name": "up", "type": tarfile.SYMTYPE, "linkname": "../.."}, None),
        ({"name": "abs", "type": tarfile.SYMTYPE, "linkname": "/etc"}, None),
        ({"name": "long/" + "d" * 120 + "/f"}, b"long name"),
    ]))


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_parts():
    layer = tar_bytes(layer_members())
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
    }, sort_keys=True).encode()
    return layer, config


def oci_archive(layer_blob, layer_type):
    layer, config = image_parts()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": layer_type, "digest": digest(layer_blob), "size": len(layer_blob)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
                       "size": len(manifest), "annotations": {"io.containerd.image.name": "docker.io/library/fuzz:latest",
                                                              "org.opencontainers.image.ref.name": "latest"}}],
    }, sort_keys=True).encode()
    blobs = [("blobs/sha256/" + digest(b)[7:], b) for b in (layer_blob, config, manifest)]
    return tar_bytes([({"name": "oci-layout"}, b'{"imageLayoutVersion":"1.0.0"}'), ({"name": "index.json"}, index)]
                     + [({"name": n}, b) for n, b in blobs])


def docker_archive():
    layer, config = image_parts()
    cfg_name = digest(config)[7:] + ".json"
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": ["fuzz:latest"], "Layers": ["abc/layer.tar"]}]).encode()
    return tar_bytes([({"name": "manifest.json"}, manifest), ({"name": cfg_name}, config),
                      ({"name": "abc", "type": tarfile.DIRTYPE, "mode": 0o755}, None), ({"name": "abc/layer.tar"}, layer),
                      ({"name": "repositories"}, b'{"fuzz":{"latest":"abc"}}')])


def image_load(t):
    layer, _ = image_parts()
    t.add(oci_archive(layer, "application/vnd.oci.image.layer.v1.tar"))
    t.add(oci_archive(gz(layer), "application/vnd.oci.image.layer.v1.tar+gzip"))
    t.add(docker_archive())


def main():
    for fn in (compose_load, dotenv, dockerfile, reference, units, dns_query, layer_unpack, image_load):
        t = Target(fn.__name__)
        fn(t)
        t.write()


if __name__ == "__main__":
    main()
