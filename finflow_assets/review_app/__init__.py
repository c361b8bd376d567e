"""The review workspace (``finflow review serve``): web pages over the review queue, decisions and reports.

It sits at the automation/UI layer: it imports ``intelligence`` and ``reports``; nothing imports it.
"""
