"""The rules of the product, in the words of the contract: sign-in, one-time codes and their defences, sessions,
the signed-in account, invites and referral lists, phones. No module here knows a Flask request.
"""
