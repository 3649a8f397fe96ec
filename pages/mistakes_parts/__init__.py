"""The Mistakes page's sections (pages/mistakes.py lays them out in tabs). Not pages themselves."""
