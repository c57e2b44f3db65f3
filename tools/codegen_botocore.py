#!/usr/bin/env python3
"""Generate Rust serde types from a botocore service model.

Usage: tools/codegen_botocore.py MODEL.json OUTPUT.rs [OPERATION ...]

With OPERATIONs, only the shapes those operations reach are generated (for
large models such as IAM's, of which Sluice serves a subset).

Every shape reachable from an operation's input or output becomes a Rust type:
structures become structs (required members plain, others `Option`), string
enums become Rust enums, lists become `Vec`, maps become `BTreeMap`, sensitive
strings become `SecretString`, timestamps become `EpochSeconds`. Scalar aliases
are inlined. The output is deterministic so CI can check it is up to date.

Constraint checks (lengths, patterns, ranges, required members) are not
generated: `sluice_model::shape_validator` reads the same model at run time and
collects every problem before a request is deserialized into these types.
"""
import html
import json
import re
import sys

RUST_KEYWORDS = {
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
}
# Shape names that would shadow common Rust names.
RESERVED_TYPE_NAMES = {"String", "Option", "Vec", "Box", "Result", "Object", "Error", "Value", "Type"}


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    if not s or s[0].isdigit():
        s = "f_" + s
    if s in RUST_KEYWORDS:
        s = "r#" + s
    return s


def camel(value):
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", value) if p]
    # ALL_CAPS words become Capitalized (NO_OP -> NoOp); mixed case is kept (SAPOData).
    parts = [p.lower() if p.isupper() and len(p) > 1 else p for p in parts]
    out = "".join(p[0].upper() + p[1:] for p in parts)
    if not out:
        out = "Empty"
    if out[0].isdigit():
        out = "V" + out
    return out


def type_name(shape_name):
    name = shape_name[0].upper() + shape_name[1:]
    if name in RESERVED_TYPE_NAMES:
        name = name + "Shape"
    return name


def first_sentence(doc):
    if not doc:
        return None
    text = re.sub(r"<[^>]+>", " ", doc)
    text = html.unescape(re.sub(r"\s+", " ", text)).strip()
    if not text:
        return None
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    text = m.group(1) if m else text
    if len(text) > 200:
        text = text[:197].rstrip() + "..."
    return text


class Generator:
    def __init__(self, model, operations=None):
        self.model = model
        self.operations = operations
        self.shapes = model["shapes"]
        self.reachable = []
        self.seen = set()

    def collect(self):
        roots = []
        for op in sorted(self.operations or self.model["operations"]):
            o = self.model["operations"][op]
            for key in ("input", "output"):
                if key in o:
                    roots.append(o[key]["shape"])
            for err in o.get("errors", []):
                roots.append(err["shape"])
        for r in roots:
            self.visit(r)

    def visit(self, name):
        if name in self.seen:
            return
        self.seen.add(name)
        shape = self.shapes[name]
        t = shape["type"]
        if t == "structure":
            self.reachable.append(name)
            for m in shape["members"].values():
                self.visit(m["shape"])
        elif t == "list":
            self.visit(shape["member"]["shape"])
        elif t == "map":
            self.visit(shape["key"]["shape"])
            self.visit(shape["value"]["shape"])
        elif t == "string" and "enum" in shape:
            self.reachable.append(name)

    def rust_type(self, name):
        shape = self.shapes[name]
        t = shape["type"]
        if t == "structure":
            return type_name(name)
        if t == "string":
            if "enum" in shape:
                return type_name(name)
            return "SecretString" if shape.get("sensitive") else "String"
        if t == "integer":
            return "i32"
        if t == "long":
            return "i64"
        if t == "boolean":
            return "bool"
        if t in ("double", "float"):
            return "f64"
        if t == "timestamp":
            return "EpochSeconds"
        if t == "list":
            return "Vec<%s>" % self.rust_type(shape["member"]["shape"])
        if t == "map":
            return "BTreeMap<%s, %s>" % (self.rust_type(shape["key"]["shape"]), self.rust_type(shape["value"]["shape"]))
        if t == "blob":
            return "String"
        raise ValueError("unsupported shape type %s for %s" % (t, name))

    def gen_struct(self, name, out):
        shape = self.shapes[name]
        doc = first_sentence(shape.get("documentation")) or "Wire shape `%s`." % name
        required = set(shape.get("required", []))
        out.append("/// %s" % doc)
        out.append("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]")
        if not required:
            out.append("#[derive(Default)]")
        out.append("pub struct %s {" % type_name(name))
        for member_name in shape["members"]:
            member = shape["members"][member_name]
            wire = member.get("locationName", member_name) if "location" not in member else member_name
            field = snake(member_name)
            rt = self.rust_type(member["shape"])
            mdoc = first_sentence(member.get("documentation")) or "Wire member `%s`." % member_name
            out.append("    /// %s" % mdoc)
            if member_name in required:
                out.append('    #[serde(rename = "%s")]' % wire)
                out.append("    pub %s: %s," % (field, rt))
            else:
                out.append('    #[serde(rename = "%s", default, skip_serializing_if = "Option::is_none")]' % wire)
                out.append("    pub %s: Option<%s>," % (field, rt))
        out.append("}")
        out.append("")

    def gen_enum(self, name, out):
        shape = self.shapes[name]
        doc = first_sentence(shape.get("documentation")) or "Wire enum `%s`." % name
        tn = type_name(name)
        variants = []
        used = set()
        for value in shape["enum"]:
            v = camel(value)
            base, i = v, 2
            while v in used:
                v = "%s%d" % (base, i)
                i += 1
            used.add(v)
            variants.append((v, value))
        out.append("/// %s" % doc)
        out.append("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]")
        out.append("pub enum %s {" % tn)
        for v, value in variants:
            out.append("    /// `%s`" % value)
            out.append('    #[serde(rename = "%s")]' % value)
            out.append("    %s," % v)
        out.append("}")
        out.append("")
        out.append("impl %s {" % tn)
        out.append("    /// Every value the model allows, in model order.")
        out.append("    pub const ALL: &'static [%s] = &[%s];" % (tn, ", ".join("Self::%s" % v for v, _ in variants)))
        out.append("")
        out.append("    /// The value as it appears on the wire.")
        out.append("    pub fn as_str(&self) -> &'static str {")
        out.append("        match self {")
        for v, value in variants:
            out.append('            Self::%s => "%s",' % (v, value))
        out.append("        }")
        out.append("    }")
        out.append("")
        out.append("    /// Parses the wire value; `None` when the model does not list it.")
        out.append("    pub fn from_wire(value: &str) -> Option<Self> {")
        out.append("        match value {")
        for v, value in variants:
            out.append('            "%s" => Some(Self::%s),' % (value, v))
        out.append("            _ => None,")
        out.append("        }")
        out.append("    }")
        out.append("}")
        out.append("")
        out.append("impl std::fmt::Display for %s {" % tn)
        out.append("    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {")
        out.append("        f.write_str(self.as_str())")
        out.append("    }")
        out.append("}")
        out.append("")

    def generate(self, source_name):
        self.collect()
        out = [
            "// @generated by tools/codegen_botocore.py from %s; do not edit by hand." % source_name,
            "//! Wire types for the `%s` API (%s)." % (self.model["metadata"].get("serviceId"), self.model["metadata"].get("apiVersion")),
            "#![allow(clippy::all, missing_docs, unused_imports)]",
            "",
            "use std::collections::BTreeMap;",
            "",
            "use serde::{Deserialize, Serialize};",
            "",
            "use crate::wire::{EpochSeconds, SecretString};",
            "",
        ]
        for name in sorted(self.reachable, key=lambda n: type_name(n)):
            shape = self.shapes[name]
            if shape["type"] == "structure":
                self.gen_struct(name, out)
            else:
                self.gen_enum(name, out)
        return "\n".join(out).rstrip() + "\n"


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    model_path, out_path, operations = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(model_path) as f:
        model = json.load(f)
    unknown = [op for op in operations if op not in model["operations"]]
    if unknown:
        print("unknown operations: %s" % ", ".join(unknown), file=sys.stderr)
        sys.exit(2)
    code = Generator(model, operations or None).generate(model_path.split("/")[-1])
    with open(out_path, "w") as f:
        f.write(code)


if __name__ == "__main__":
    main()
