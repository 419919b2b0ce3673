"""Syntax: source text to AST — the lexer, the LALR parser over the grammar, lowering, and the node classes."""
