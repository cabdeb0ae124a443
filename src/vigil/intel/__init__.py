"""Intelligence beyond cyber: evaluation codes, legal bases and purposes, handling uses
that need the originator's consent, personal data, and the theme vocabulary."""
