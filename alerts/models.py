# CRS credit-alert models arrive with the CRS intake (CONTRACT §6).
