"""Parse HCL native syntax into :mod:`bakec.bake.hcl.ast` using python-hcl2's Lark grammar.

python-hcl2 supplies the grammar and the Lark tree with positions; this module
turns that tree into bakec's own small AST (strings unescaped, template
directives nested, strip markers applied, heredocs parsed as templates).
"""

from __future__ import annotations

from decimal import Decimal

from bakec.bake.hcl import ast
from bakec.bake.hcl.grammar import hcl_parser
from bakec.bake.hcl.nesting import check_hcl_nesting
from bakec.bake.hcl.values import number
from bakec.errors import DiagnosticError, Pos, Range
from bakec.util.sourcefile import decode_utf8

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def parse_hcl(source: bytes | str, filename: str) -> ast.Body:
    """Parse an HCL file into a Body, or raise a positioned :class:`DiagnosticError`."""
    text = decode_source(source, filename)
    check_hcl_nesting(text, filename)
    tree = _lark_parse(text, filename)
    return _Builder(filename, text).body(tree.children[0])


def decode_source(source: bytes | str, filename: str) -> str:
    """Source text as str; invalid UTF-8 is a positioned error, as in HCL."""
    return source if isinstance(source, str) else decode_utf8(source, filename)


def parse_expression(text: str, filename: str, line_offset: int = 0) -> ast.Node:
    """Parse a standalone expression (used for JSON-syntax templates and heredocs)."""
    tree = _lark_parse(f"x = {text}\n", filename)
    builder = _Builder(filename, text, line_offset=line_offset, column_offset=-4)
    attr = tree.children[0].children[0]
    return builder.expr(attr.children[-1])


def _lark_parse(text: str, filename: str):
    import lark

    if not text.endswith("\n"):
        text += "\n"
    try:
        return hcl_parser().parse(text)
    except lark.exceptions.UnexpectedInput as err:
        raise _syntax_error(err, text, filename) from None
    except lark.exceptions.LarkError as err:  # pragma: no cover - defensive
        raise DiagnosticError("Invalid syntax", str(err).splitlines()[0]) from None


def _syntax_error(err, text: str, filename: str) -> DiagnosticError:
    import lark

    line = getattr(err, "line", 1) or 1
    column = getattr(err, "column", 1) or 1
    lines = text.split("\n")
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    rng = Range(filename, Pos(line, column), Pos(line, column + 1))
    summary, detail = (
        "Invalid expression",
        "Expected the start of an expression, but found an invalid expression token.",
    )
    before = source_line[: column - 1]
    if before.count('"') % 2 == 1 and isinstance(
        err, (lark.exceptions.UnexpectedCharacters, lark.exceptions.UnexpectedToken)
    ):
        quote = before.rfind('"')
        if '"' not in source_line[quote + 1 :]:
            rng = Range(filename, Pos(line, quote + 1), Pos(line + 1, 1))
            summary = "Invalid multi-line string"
            detail = (
                "Quoted strings may not be split over multiple lines. To produce a multi-line string, "
                'either use the \\n escape to represent a newline character or use the "heredoc" '
                "multi-line template syntax."
            )
            return DiagnosticError(summary, detail, rng)
    if isinstance(err, lark.exceptions.UnexpectedToken):
        token = err.token
        expected = set(err.expected or ())
        inside_brackets = "RSQB" in expected or "COMMA" in expected
        if token.type in ("NL_OR_COMMENT", "__ANON_0") and "RBRACE" in expected:
            summary, detail = (
                "Missing newline after argument",
                "An argument definition must end with a newline.",
            )
        elif "COMMA" in expected and ("RSQB" in expected or "RPAR" in expected or "RBRACE" in expected):
            summary = "Missing item separator"
            detail = "Expected a comma to mark the beginning of the next item."
        elif inside_brackets:
            summary = "Missing item separator"
            detail = "Expected a comma to mark the beginning of the next item."
        elif "EQ" in expected or "LBRACE" in expected:
            summary = "Argument or block definition required"
            detail = "An argument or block definition is required here."
        else:
            found = token.value if token.type != "$END" else "end of file"
            detail = f"Unexpected {found!r}."
    elif isinstance(err, lark.exceptions.UnexpectedCharacters):
        char = source_line[column - 1 : column] if source_line else ""
        summary = "Invalid character"
        detail = (
            f"This character is not used within the language: {char!r}." if char else "Unexpected character."
        )
    elif isinstance(err, lark.exceptions.UnexpectedEOF):
        summary, detail = "Unclosed configuration block", "There is no closing brace for this block."
    return DiagnosticError(summary, detail, rng)


# Go's unicode.IsSpace: what HCL's strip markers and heredoc flushing treat as white space
_GO_SPACES = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


class _Builder:
    """Converts a python-hcl2 Lark tree into bakec's AST."""

    def __init__(self, filename: str, text: str, line_offset: int = 0, column_offset: int = 0) -> None:
        self.filename = filename
        self.text = text
        self.line_offset = line_offset
        self.column_offset = column_offset

    # -- positions ---------------------------------------------------------------
    def range(self, item) -> Range:
        meta = getattr(item, "meta", None)
        if meta is not None and not getattr(meta, "empty", True):
            sl, sc, el, ec = meta.line, meta.column, meta.end_line, meta.end_column
        elif hasattr(item, "line") and item.line is not None:  # a Token
            sl, sc = item.line, item.column
            el, ec = item.end_line, item.end_column
        else:  # an empty rule (e.g. an empty block body) has no position
            sl = sc = el = ec = 1
        if sl == 1:
            sc += self.column_offset
        if el == 1:
            ec += self.column_offset
        return Range(self.filename, Pos(sl + self.line_offset, sc), Pos(el + self.line_offset, ec))

    # -- structure ---------------------------------------------------------------
    def body(self, tree) -> ast.Body:
        attributes: dict[str, ast.Attribute] = {}
        blocks: list[ast.Block] = []
        for child in tree.children:
            data = getattr(child, "data", None)
            if data == "attribute":
                attr = self.attribute(child)
                if attr.name in attributes:
                    first = attributes[attr.name].name_range
                    raise DiagnosticError(
                        "Attribute redefined",
                        f'The argument "{attr.name}" was already set at {first.filename}:{first.start.line},'
                        f"{first.start.column}-{first.end.column}. Each argument may be set only once.",
                        attr.name_range,
                    )
                attributes[attr.name] = attr
            elif data == "block":
                blocks.append(self.block(child))
        return ast.Body(attributes, blocks, self.range(tree))

    def attribute(self, tree) -> ast.Attribute:
        name_node = tree.children[0]
        return ast.Attribute(
            name=self.name_of(name_node),
            expr=self.expr(tree.children[-1]),
            range=self.range(tree),
            name_range=self.range(name_node),
        )

    def block(self, tree) -> ast.Block:
        parts = [c for c in tree.children if getattr(c, "data", None) not in ("new_line_or_comment",)]
        type_node = parts[0]
        labels: list[str] = []
        label_ranges: list[Range] = []
        body_tree = None
        for part in parts[1:]:
            data = getattr(part, "data", None)
            if data == "body":
                body_tree = part
            elif data == "string":
                labels.append(self.plain_string(part))
                label_ranges.append(self.range(part))
            elif data in ("identifier", "keyword", "literal_value"):
                labels.append(self.name_of(part))
                label_ranges.append(self.range(part))
        body = self.body(body_tree) if body_tree is not None else ast.Body({}, [], self.range(tree))
        return ast.Block(
            self.name_of(type_node), labels, body, self.range(tree), self.range(type_node), label_ranges
        )

    def name_of(self, node) -> str:
        if hasattr(node, "children"):
            return str(node.children[0])
        return str(node)

    def plain_string(self, node) -> str:
        template = self.string(node)
        out = []
        for part in template.parts:
            if isinstance(part, ast.Literal):
                out.append(part.value)
            else:
                raise DiagnosticError(
                    "Invalid block label",
                    "Block labels may not contain template sequences.",
                    self.range(node),
                )
        return "".join(out)

    # -- expressions -------------------------------------------------------------
    def expr(self, tree) -> ast.Node:
        data = tree.data
        handler = getattr(self, "x_" + data, None)
        if handler is None:  # pragma: no cover - grammar drift
            raise DiagnosticError("Unsupported expression", f"bakec cannot evaluate {data}", self.range(tree))
        return handler(tree)

    def _exprs(self, tree) -> list:
        return [c for c in tree.children if hasattr(c, "data") and c.data != "new_line_or_comment"]

    def x_expr_term(self, tree) -> ast.Node:
        kids = self._exprs(tree)
        if len(tree.children) > 1 and str(tree.children[0]) == "(":
            return ast.Paren(self.range(tree), self.expr(kids[0]))
        return self.expr(kids[0])

    def x_int_lit(self, tree) -> ast.Node:
        return ast.Literal(self.range(tree), number(str(tree.children[0])))

    x_float_lit = x_int_lit

    def x_literal_value(self, tree) -> ast.Node:
        word = str(tree.children[0])
        return ast.Literal(self.range(tree), {"true": True, "false": False, "null": None}[word])

    def x_identifier(self, tree) -> ast.Node:
        return ast.Variable(self.range(tree), str(tree.children[0]))

    x_keyword = x_identifier

    def x_string(self, tree) -> ast.Template:
        return self.string(tree)

    def x_template_string(self, tree) -> ast.Node:
        raw = str(tree.children[0])
        return ast.Literal(self.range(tree), _unescape(raw[2:-2]))

    def x_conditional(self, tree) -> ast.Node:
        kids = self._exprs(tree)
        return ast.Conditional(self.range(tree), self.expr(kids[0]), self.expr(kids[1]), self.expr(kids[2]))

    def x_binary_op(self, tree) -> ast.Node:
        kids = self._exprs(tree)
        left = self.expr(kids[0])
        term = kids[1]
        term_kids = self._exprs(term)
        op = str(term_kids[0].children[0])
        right = self.expr(term_kids[1])
        return ast.Binary(self.range(tree), op, left, right)

    def x_unary_op(self, tree) -> ast.Node:
        op = str(tree.children[0])
        operand = self.expr(self._exprs(tree)[0])
        if op == "-" and isinstance(operand, ast.Literal) and isinstance(operand.value, Decimal):
            return ast.Literal(self.range(tree), operand.value.copy_negate())  # -0 stays negative
        return ast.Unary(self.range(tree), op, operand)

    def x_tuple(self, tree) -> ast.Node:
        return ast.TupleExpr(self.range(tree), tuple(self.expr(k) for k in self._exprs(tree)))

    def x_object(self, tree) -> ast.Node:
        items = []
        for elem in self._exprs(tree):
            key_node, value_node = self._exprs(elem)
            key_inner = self._exprs(key_node)
            if key_inner:
                key = self.expr(key_inner[0])
            else:  # a keyword used as a key
                key = ast.Variable(self.range(key_node), str(key_node.children[0]))
            if isinstance(key, ast.Variable):
                key = ast.Literal(key.range, key.name)
            items.append((key, self.expr(value_node)))
        return ast.ObjectExpr(self.range(tree), tuple(items))

    def x_heredoc_template(self, tree) -> ast.Node:
        return self.heredoc(tree, trim=False)

    def x_heredoc_template_trim(self, tree) -> ast.Node:
        return self.heredoc(tree, trim=True)

    def x_function_call(self, tree) -> ast.Node:
        kids = self._exprs(tree)
        names = [k for k in kids if k.data == "identifier"]
        name = "::".join(str(n.children[0]) for n in names)
        args: list[ast.Node] = []
        expand = False
        for k in kids:
            if k.data == "arguments":
                args = [self.expr(a) for a in self._exprs(k)]
                expand = any(str(t) == "..." for t in k.children if not hasattr(t, "data"))
        close = tree.children[-1]
        return ast.Call(self.range(tree), name, tuple(args), expand, self.range(names[0]), self.range(close))

    def x_index_expr_term(self, tree) -> ast.Node:
        target_tree, index_tree = self._exprs(tree)
        return self.apply_index(self.expr(target_tree), index_tree, self.range(tree))

    def x_get_attr_expr_term(self, tree) -> ast.Node:
        target_tree, attr_tree = self._exprs(tree)
        return self.apply_get_attr(self.expr(target_tree), attr_tree, self.range(tree))

    def apply_index(self, target: ast.Node, index_tree, rng: Range) -> ast.Node:
        if index_tree.data == "short_index":
            token = index_tree.children[-1]
            key: ast.Node = ast.Literal(self.range(token), number(str(token)))
        else:
            key = self.expr(self._exprs(index_tree)[0])
        return ast.Index(rng, target, key)

    def apply_get_attr(self, target: ast.Node, attr_tree, rng: Range) -> ast.Node:
        name_node = self._exprs(attr_tree)[0]
        return ast.GetAttr(rng, target, self.name_of(name_node), self.range(name_node))

    def x_attr_splat_expr_term(self, tree) -> ast.Node:
        return self.splat(tree, full=False)

    def x_full_splat_expr_term(self, tree) -> ast.Node:
        return self.splat(tree, full=True)

    def splat(self, tree, full: bool) -> ast.Node:
        source_tree, splat_tree = self._exprs(tree)
        rng = self.range(tree)
        each: ast.Node = ast.SplatAnchor(rng)
        for step in self._exprs(splat_tree):
            if step.data == "get_attr":
                each = self.apply_get_attr(each, step, rng)
            else:
                each = self.apply_index(each, step, rng)
        return ast.Splat(rng, self.expr(source_tree), each, full)

    def x_for_tuple_expr(self, tree) -> ast.Node:
        return self.for_expr(tree, is_object=False)

    def x_for_object_expr(self, tree) -> ast.Node:
        return self.for_expr(tree, is_object=True)

    def for_expr(self, tree, is_object: bool) -> ast.Node:
        kids = self._exprs(tree)
        intro = kids[0]
        intro_kids = self._exprs(intro)
        idents = [str(k.children[0]) for k in intro_kids if k.data == "identifier"]
        collection = self.expr(intro_kids[-1])
        key_var, value_var = (idents[0], idents[1]) if len(idents) == 2 else (None, idents[0])
        rest = kids[1:]
        condition = None
        if rest and rest[-1].data == "for_cond":
            condition = self.expr(self._exprs(rest[-1])[0])
            rest = rest[:-1]
        group = any(str(t) == "..." for t in tree.children if not hasattr(t, "data"))
        if is_object:
            key, value = self.expr(rest[0]), self.expr(rest[1])
        else:
            key, value = None, self.expr(rest[0])
        return ast.ForExpr(self.range(tree), key_var, value_var, collection, key, value, condition, group)

    # -- templates ---------------------------------------------------------------
    def string(self, tree, heredoc: bool = False, flush: bool = False) -> ast.Template:
        """Build a template from a quoted string's flat parts, nesting if/for directives.

        ``heredoc``: the parts come from a heredoc body (literals split per line before
        strip markers apply); ``flush``: it is a ``<<-`` heredoc, whose indentation goes.
        """
        items: list = []  # literals, expression nodes, and directive markers
        for part in tree.children:
            if not hasattr(part, "data"):
                continue  # the quote tokens
            inner = part.children[0]
            if not hasattr(inner, "data"):
                kind = inner.type
                raw = str(inner)
                if kind == "ESCAPED_INTERPOLATION":
                    items.append(("lit", "${" + raw[3:]))
                elif kind == "ESCAPED_DIRECTIVE":
                    items.append(("lit", "%{" + raw[3:]))
                else:
                    items.append(("lit", _unescape(raw)))
                continue
            rng = self.range(inner)
            data = inner.data
            tokens = [str(t) for t in inner.children if not hasattr(t, "data")]
            strip_before = len(tokens) > 1 and tokens[1] == "~"
            strip_after = len(tokens) > 1 and tokens[-2] == "~"
            if data == "interpolation":
                items.append(("expr", self.expr(self._exprs(inner)[0]), strip_before, strip_after, rng))
                continue
            exprs = self._exprs(inner)
            if data == "template_if_start":
                items.append(("if", self.expr(exprs[0]), strip_before, strip_after, rng))
            elif data == "template_else":
                items.append(("else", None, strip_before, strip_after, rng))
            elif data == "template_endif":
                items.append(("endif", None, strip_before, strip_after, rng))
            elif data == "template_for_start":
                names = [str(e.children[0]) for e in exprs if e.data == "identifier"]
                coll = (
                    self.expr([e for e in exprs if e.data != "identifier"][-1])
                    if len(exprs) > len(names)
                    else None
                )
                if coll is None:  # the collection is itself a bare identifier
                    coll = self.expr(exprs[-1])
                    names = names[:-1]
                items.append(("for", (names, coll), strip_before, strip_after, rng))
            elif data == "template_endfor":
                items.append(("endfor", None, strip_before, strip_after, rng))
        if heredoc:
            items = _split_lines(items)
        _apply_strip_markers(items)
        if flush:
            _flush_heredoc(items)
        template, rest = self._nest(items, 0, self.range(tree), stop=())
        return template

    def _nest(self, items: list, i: int, rng: Range, stop: tuple[str, ...]):
        parts: list[ast.Node] = []
        while i < len(items):
            item = items[i]
            kind = item[0]
            if kind in stop:
                return ast.Template(rng, tuple(parts)), i
            if kind == "lit":
                if item[1]:
                    parts.append(ast.Literal(rng, item[1]))
                i += 1
            elif kind == "expr":
                parts.append(item[1])
                i += 1
            elif kind == "if":
                then, i = self._nest(items, i + 1, item[4], stop=("else", "endif"))
                otherwise = None
                if i < len(items) and items[i][0] == "else":
                    otherwise, i = self._nest(items, i + 1, item[4], stop=("endif",))
                if i >= len(items):
                    raise DiagnosticError(
                        "Unterminated template string",
                        "No closing marker was found for the if directive.",
                        item[4],
                    )
                parts.append(ast.TemplateIf(item[4], item[1], then, otherwise))
                i += 1
            elif kind == "for":
                names, coll = item[1]
                body, i = self._nest(items, i + 1, item[4], stop=("endfor",))
                if i >= len(items):
                    raise DiagnosticError(
                        "Unterminated template string",
                        "No closing marker was found for the for directive.",
                        item[4],
                    )
                key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
                parts.append(ast.TemplateFor(item[4], key_var, value_var, coll, body))
                i += 1
            else:
                raise DiagnosticError(
                    "Unexpected template directive",
                    f"An {kind} directive must follow a matching opening directive.",
                    item[4],
                )
        return ast.Template(rng, tuple(parts)), i

    def heredoc(self, tree, trim: bool) -> ast.Node:
        """A heredoc as HCL reads it: one literal token per line, strip markers, then ``<<-`` flushing."""
        raw = str(tree.children[0])
        _, _, rest = raw.partition("\n")
        # the token ends with "<indent>MARKER\n": drop the marker line
        body = rest[: rest.rstrip("\n").rfind("\n") + 1] if rest.count("\n") > 1 else ""
        rng = self.range(tree)
        if "${" not in body and "%{" not in body:
            items: list = [("lit", line) for line in body.splitlines(keepends=True)]
            if trim:
                _flush_heredoc(items)
            return ast.Template(rng, (ast.Literal(rng, "".join(item[1] for item in items)),))
        attribute = _lark_parse(f"x = {quote_template(body)}\n", self.filename).children[0].children[0]
        string_tree = attribute.children[-1].children[0]  # x = <expr_term <string>>
        builder = _Builder(self.filename, body, line_offset=rng.start.line, column_offset=-4)
        return builder.string(string_tree, heredoc=True, flush=trim)


def _split_lines(items: list) -> list:
    """Literal items cut after each newline, as HCL's scanner emits one literal token per heredoc line."""
    out: list = []
    for item in items:
        if item[0] != "lit" or "\n" not in item[1][:-1]:
            out.append(item)
            continue
        out.extend(("lit", line) for line in item[1].splitlines(keepends=True))
    return out


def _flush_heredoc(items: list) -> None:
    """Remove the common indentation of a ``<<-`` heredoc's lines (HCL's flushHeredocTemplateParts).

    A line starting with an interpolation or directive counts as unindented; a line of only
    whitespace is ignored and kept as it is; a line whose newline a strip marker removed
    joins the next one, which then is not a line start.
    """
    fewest = None
    adjust: list[int] = []
    newline = True
    for index, item in enumerate(items):
        if newline:
            newline = False
            spaces = 0
            if item[0] == "lit":
                text = item[1]
                trimmed = text.lstrip(_GO_SPACES)
                if not trimmed and text.endswith("\n"):
                    spaces = None
                else:
                    spaces = len(text) - len(trimmed)
                    adjust.append(index)
            if spaces is not None and (fewest is None or spaces < fewest):
                fewest = spaces
        if item[0] == "lit" and item[1].endswith("\n"):
            newline = True
    for index in adjust:
        items[index] = ("lit", items[index][1][fewest:])


def _apply_strip_markers(items: list) -> None:
    for index, item in enumerate(items):
        if item[0] == "lit":
            continue
        _, _, strip_before, strip_after, _ = item
        if strip_before and index > 0 and items[index - 1][0] == "lit":
            items[index - 1] = ("lit", items[index - 1][1].rstrip(_GO_SPACES))
        if strip_after and index + 1 < len(items) and items[index + 1][0] == "lit":
            items[index + 1] = ("lit", items[index + 1][1].lstrip(_GO_SPACES))


def _unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and i + 6 <= len(raw):
                out.append(chr(int(raw[i + 2 : i + 6], 16)))
                i += 6
                continue
            if nxt == "U" and i + 10 <= len(raw):
                out.append(chr(int(raw[i + 2 : i + 10], 16)))
                i += 10
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def quote_template(body: str) -> str:
    """Turn a heredoc body into an equivalent quoted-string template source."""
    out = ['"']
    i = 0
    n = len(body)
    while i < n:
        if body.startswith(("$${", "%%{"), i):
            out.append(body[i : i + 3])
            i += 3
            continue
        if body.startswith(("${", "%{"), i):
            end = _matching_brace(body, i + 2)
            out.append(body[i : end + 1])
            i = end + 1
            continue
        ch = body[i]
        out.append({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, ch))
        i += 1
    out.append('"')
    return "".join(out)


def _matching_brace(text: str, i: int) -> int:
    depth = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text) - 1
