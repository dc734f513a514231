"""Targets: the models jobs may read and write (the rows of a ``data.import``
or ``data.export``, an email's recipients), how each row is checked, and who
may do what with which rows. Shared by the kinds that use them; a kind app
declares its own targets in a ``targets`` module, found when the app starts."""
