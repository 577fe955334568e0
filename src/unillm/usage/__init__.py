"""The usage ledger, pricing, the daily roll-up, reports and exports."""
