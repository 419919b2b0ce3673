"""SQL helpers shared by every stage that writes SQL: quoting, parameters, exact-decimal arithmetic."""
