"""The leading group's digest (领导小组简报): periods, figures, text, delivery, archive.

- ``periods``: which days a daily/weekly digest covers, which period is due;
- ``build``: every figure (from ``storage.stats``) as plain data;
- ``render``: the Chinese Markdown and the headline;
- ``run``: exactly once per period, through the outbox;
- ``archive``: the ``digests`` table and the Markdown files;
- ``jobs``/``cli``/``views``: the scheduler, ``python -m bot digest`` and the console pages.

See docs/digest.md.
"""
