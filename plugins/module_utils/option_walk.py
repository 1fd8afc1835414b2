# Read option tokens the way argparse does with a program's option table: the one walk that both the
# `cactus` check (cactus_command) and the cactus-prepare-toil routing (cactus_prepare_toil) use.

from __future__ import annotations

from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError


def walk_options(tokens, table, variable, program, unknown):
    """[(name as given, full option, [values])] of `tokens` read as argparse would with `table`
    ({option: (nargs, choices)}, nargs as argparse: None = one value, 0 = a flag, "?", "*", "+"),
    unambiguous prefixes of long options included. `program` ("cactus v3.2.1") names the parser in
    messages; `unknown(name)` raises for a name the table does not know. Every refusal names
    `variable`."""
    command = program.split()[0]
    longs = sorted(o for o in table if o.startswith("--"))
    groups, index = [], 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-") or token in ("-", "--"):
            raise CactusError(
                variable,
                f"'{token}' is neither a {command} option nor an option's value "
                f"({command} would stop: unrecognized arguments)",
                "give options with their values, e.g. ['--maskMode', 'red']",
            )
        if token.startswith("--"):
            name, _eq, attached = token.partition("=")
            attached = attached if _eq else None
        else:  # -xVALUE: argparse reads a short option's value attached
            name, attached = token[:2], (token[2:] or None)
        option = find_option(name, longs, table, variable, unknown)
        nargs, choices = table[option]
        values = [attached] if attached is not None else []
        if attached is None and nargs is None:
            if index >= len(tokens):
                raise CactusError(variable, f"'{token}' needs a value", f"write {option} VALUE")
            values, index = [tokens[index]], index + 1
        elif attached is None and nargs in ("?", "*", "+"):
            while index < len(tokens) and not tokens[index].startswith("-"):
                values.append(tokens[index])
                index += 1
                if nargs == "?":
                    break
        for value in values:
            if choices and all(isinstance(c, str) for c in choices) and value not in choices:
                allowed = ", ".join(choices)
                raise CactusError(
                    variable,
                    f"{option} '{value}' is not one of {allowed} ({program})",
                    f"use one of: {allowed}",
                )
        groups.append((name, option, values))
    return groups


def find_option(name, longs, table, variable, unknown):
    """The option `name` stands for: itself, or the one long option it is a prefix of (argparse)."""
    if name in table:
        return name
    matches = [o for o in longs if o.startswith(name)] if name.startswith("--") else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CactusError(
            variable,
            f"'{name}' is an ambiguous prefix of {', '.join(matches)}",
            "write the whole option name",
        )
    return unknown(name)
