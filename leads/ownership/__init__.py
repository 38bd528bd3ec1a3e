"""Whose lead it is and how fast it is worked: assignment (by hand and by routing rules), first
contact, activities and follow-ups (docs/contract.md#17-ownership-and-speed-to-lead)."""
