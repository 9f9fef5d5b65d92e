#!/usr/bin/env python3
"""Regenerates verify_corpus.json: a ledger of genuine notifications for twelve customers and
the claims callers make about them (genuine with imperfect recall, contradicted, forged, and
unanswerable), each with the verdict a careful fraud analyst would give. Deterministic."""
import json, random
from datetime import datetime, timedelta, timezone

rnd = random.Random(20260603)
NOW = datetime(2026, 6, 3, 18, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
M = timedelta(minutes=1)
def t(d): return d.strftime("%Y-%m-%dT%H:%M:%SZ")
def clock(d): return d.strftime("%-I:%M %p").lower()

MERCHANTS = [  # (recorded descriptor, how a caller says it, amount)
    ("BESTBUY #1123", "Best Buy", "479.99"), ("APPLE.COM/BILL", "Apple", "1249.00"),
    ("SHELL OIL 57442", "Shell", "89.45"), ("AMAZON MKTPLACE PMTS", "amazon", "64.99"),
    ("WAL-MART #3321", "Walmart", "2150.00"), ("NETFLIX.COM", "Netflix", "19.99"),
    ("HOME DEPOT #4410", "home depot", "745.50"), ("UBER *TRIP", "Uber", "38.20"),
    ("SAMSUNG ELECTRONICS", "Samsung", "999.00"), ("TARGET T-1887", "Target", "156.73"),
    ("DELTA AIR 0062", "Delta", "420.00"), ("COSTCO WHSE #0423", "Costco", "312.18"),
]
FORGED = [("Best Buy", "480"), ("Apple Store", "1,299"), ("Walmart", "650.00"), ("Zelle", "500"),
          ("Amazon", "749.99"), ("Coinbase", "2000"), ("Target", "399"), ("PayPal", "850")]
ATTACKER_NUMBERS = ["888-555-0142", "(877) 555-0190", "+1 833 555 0111", "866.555.0123"]
NAMES = ["maria", "john", "aisha", "wei", "carlos", "emma", "raj", "fatima", "liam", "sofia", "kofi", "yuki"]

ledger, cases = [], []
def rec(**kw): ledger.append(kw); return kw
def case(name, said, claim, expect, reason=None):
    c = {"name": name, "said": said, "claim": claim, "expect": expect}
    if reason: c["expect_reason"] = reason
    cases.append(c)

for i, cust in enumerate(NAMES):
    card = f"{rnd.randint(1000, 9999)}"
    desc, spoken, amount = MERCHANTS[i]
    dollars = float(amount)
    t_auth = NOW - (2 + (i % 4)) * H - rnd.randint(0, 50) * M          # 2-6 h ago
    t_otp = NOW - 11 * H - rnd.randint(0, 60) * M
    t_fraud = NOW - 26 * H - rnd.randint(0, 60) * M
    t_push = NOW - 8 * H - rnd.randint(0, 60) * M
    t_mail = NOW - 30 * H
    t_ship = NOW - 50 * H
    code = f"{rnd.randint(0, 999999):06d}"
    fdesc, fspoken, famount = MERCHANTS[(i + 5) % len(MERCHANTS)]
    tracking = f"1Z999AA1{rnd.randint(10**9, 10**10 - 1)}"
    rec(source="card-alerts", id=f"{cust}-auth", customer_id=cust, channel="sms", sender="ACMEBANK", sent_at=t(t_auth),
        category="card_auth", template_id="card-auth-v3",
        body=f"ACME Bank: Did you authorise ${amount} at {desc} on card ending {card}? Reply Y or N. Questions: 1-800-555-0199")
    rec(source="card-alerts", id=f"{cust}-otp", customer_id=cust, channel="sms", sender="ACMEBANK", sent_at=t(t_otp),
        category="otp", template_id="otp-v1", body=f"ACME Bank: {code} is your verification code. We will never call to ask for it.")
    rec(source="card-alerts", id=f"{cust}-fraud", customer_id=cust, channel="sms", sender="ACMEBANK", sent_at=t(t_fraud),
        category="fraud_alert", template_id="fraud-v2",
        variables={"amount": f"${famount}", "merchant": fdesc, "card_last4": card},
        body=f"ACME Fraud Alert: suspicious charge of ${famount} at {fdesc} on card ending {card}. Reply YES if it was you, NO if not.")
    rec(source="digital", id=f"{cust}-push", customer_id=cust, channel="push", sender="ACME Bank app", sent_at=t(t_push),
        category="login_alert", template_id="new-device-v2",
        body="New sign-in to your ACME account from an iPhone in Austin, TX. Not you? Open the app and tap Secure account.")
    rec(source="legacy-mailer", id=f"{cust}-stmt", customer_id=cust, channel="email", sender="statements@acmebank.com",
        sent_at=t(t_mail), category="statement", template_id="estatement-v5",
        body="Your ACME Bank statement is ready. Sign in at https://secure.acmebank.com/statements to view it.")
    rec(source="card-alerts", id=f"{cust}-ship", customer_id=cust, channel="sms", sender="ACMEBANK", sent_at=t(t_ship),
        category="card_shipped", template_id="card-ship-v1",
        body=f"ACME Bank: your replacement card has shipped. Track it with UPS: {tracking}")

    rounded = f"{round(dollars):,}"
    off = rnd.choice([-80, -45, -20, 15, 35, 70])
    # --- genuine claims, remembered imperfectly: confirmed
    case(f"{cust}: exact amount and merchant, time roughly",
         f"I got a text around {clock(t_auth + off * M)} asking if I authorised ${amount} at {spoken}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth + off * M), "mentions": {"amount": f"${amount}", "merchant": spoken}}, "confirmed")
    case(f"{cust}: rounded amount, no time",
         f"You texted me about a {rounded} dollar charge at {spoken.lower()}",
         {"customer_id": cust, "channel": "sms", "mentions": {"amount": rounded, "merchant": spoken.lower()}}, "confirmed")
    case(f"{cust}: card ending only",
         f"It was about my card ending {card}, a couple of hours ago",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth + 60 * M), "mentions": {"card_last4": card}}, "confirmed")
    case(f"{cust}: callback number written another way",
         "The text said to call 800 555 0199 if it wasn't me",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth - 30 * M), "mentions": {"callback_number": "(800) 555-0199", "amount": amount}}, "confirmed")
    case(f"{cust}: sender as seen, with spaces",
         f"It came from ACME BANK, asking about {spoken}",
         {"customer_id": cust, "channel": "sms", "sender_seen": "ACME BANK", "mentions": {"merchant": spoken}}, "confirmed")
    case(f"{cust}: a phrase from the text",
         "It said 'did you authorise' something and to reply Y or N",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth), "mentions": {"text": f"Did you authorise ${amount} at {desc}"}}, "confirmed")
    case(f"{cust}: the one-time code",
         f"I got a code, {code}, last night",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_otp + 40 * M), "mentions": {"code": code}}, "confirmed")
    case(f"{cust}: yesterday's fraud alert",
         f"Yesterday you asked me about ${famount} at {fspoken}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_fraud - 50 * M), "mentions": {"amount": famount, "merchant": fspoken}}, "confirmed")
    case(f"{cust}: app notification about a sign-in",
         "The app told me someone signed in from an iPhone",
         {"customer_id": cust, "channel": "push", "received_at": t(t_push + 25 * M), "mentions": {"text": "new sign-in from an iPhone"}}, "confirmed")
    case(f"{cust}: statement email link",
         "The email had a link to secure.acmebank.com",
         {"customer_id": cust, "channel": "email", "received_at": t(t_mail + 90 * M), "mentions": {"url": "https://secure.acmebank.com/login"}}, "confirmed")
    case(f"{cust}: tracking number",
         f"My card shipped, tracking {tracking}",
         {"customer_id": cust, "channel": "sms", "mentions": {"text": f"replacement card has shipped {tracking}"}}, "confirmed")
    # --- the right message, a cue contradicts it: partial
    wrong_card = f"{(int(card) + 1111) % 9000 + 1000}"
    case(f"{cust}: wrong card ending",
         f"It was about my card ending {wrong_card}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth), "mentions": {"amount": amount, "card_last4": wrong_card}}, "partial", "cue_mismatch")
    case(f"{cust}: amount far off",
         f"They said ${dollars * 3 + 50:.2f} at {spoken}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth + 20 * M), "mentions": {"amount": f"{dollars * 3 + 50:.2f}", "merchant": spoken}}, "partial", "cue_mismatch")
    case(f"{cust}: lookalike sender",
         f"It was from ACMEBNK about {spoken}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth), "sender_seen": "ACMEBNK", "mentions": {"merchant": spoken}}, "partial", "sender_lookalike")
    # --- forged texts, fresh ledger, nothing of the kind: not_sent
    fm, fa = FORGED[i % len(FORGED)]
    quiet = NOW - 40 * M   # the last ~2 h hold no SMS for anyone (auths are >= 2 h 50 min old)
    if t_auth < NOW - (2 * H + 45 * M):
        case(f"{cust}: forged purchase alert with a callback number",
             f"I got a text about ${fa} at {fm}, and it said to call {ATTACKER_NUMBERS[i % 4]}",
             {"customer_id": cust, "channel": "sms", "received_at": t(quiet), "sender_seen": "ACMEBNK",
              "mentions": {"amount": fa, "merchant": fm, "callback_number": ATTACKER_NUMBERS[i % 4]}}, "not_sent")
        case(f"{cust}: forged account-locked text",
             "About half an hour ago a text said my account was locked and to call a number",
             {"customer_id": cust, "channel": "sms", "received_at": t(NOW - 30 * M),
              "mentions": {"text": "Your account has been locked. Call 1-888-555-0177 to restore access", "callback_number": "1-888-555-0177"}}, "not_sent")
    case(f"{cust}: forged app notification",
         "Just now the app said a wire of $3,000 was pending",
         {"customer_id": cust, "channel": "push", "received_at": t(NOW - 10 * M), "mentions": {"amount": "$3,000", "text": "wire transfer pending"}}, "not_sent")
    case(f"{cust}: forged text with a lookalike link, 18 h ago",
         "Yesterday evening a text said to verify at acmebank-secure.com",
         {"customer_id": cust, "channel": "sms", "received_at": t(NOW - 18 * H), "mentions": {"url": "http://acmebank-secure.com/verify"}}, "not_sent")
    # --- the ledger cannot answer: cannot_confirm
    case(f"{cust}: email in the last hours (mail feed is behind)",
         "An email an hour ago said my card was suspended",
         {"customer_id": cust, "channel": "email", "received_at": t(NOW - 60 * M), "mentions": {"text": "card suspended"}}, "cannot_confirm", "ledger_stale")
    case(f"{cust}: last year",
         "Last summer you texted me about a charge",
         {"customer_id": cust, "channel": "sms", "received_at": t(NOW - 300 * 24 * H)}, "cannot_confirm", "outside_retention")
    case(f"{cust}: automated voice call",
         "An automated call this morning said there was fraud",
         {"customer_id": cust, "channel": "voice", "received_at": t(NOW - 5 * H)}, "cannot_confirm", "no_feed_for_channel")
    case(f"{cust}: before the feeds began",
         "Forty days ago you texted me about a refund",
         {"customer_id": cust, "channel": "sms", "received_at": t(NOW - 40 * 24 * H), "mentions": {"text": "refund"}}, "cannot_confirm", "before_feed_start")

for j, stranger in enumerate(["c-77812", "c-90001", "walk-in-caller", "c-00000"]):
    case(f"unknown customer {stranger}", "I got a text from you about a charge",
         {"customer_id": stranger, "channel": "sms", "mentions": {"amount": "$480", "merchant": "Best Buy"}}, "cannot_confirm", "unknown_customer")

corpus = {
    "about": "Claims as callers phrase them, against a small ledger. Regenerate with generate.py.",
    "now": t(NOW),
    "retention_days": 90,
    "sources": [
        {"source": "card-alerts", "watermark": t(NOW - timedelta(seconds=15)), "complete_since": t(NOW - 30 * 24 * H)},
        {"source": "digital", "watermark": t(NOW - timedelta(seconds=20)), "complete_since": t(NOW - 30 * 24 * H)},
        {"source": "legacy-mailer", "watermark": t(NOW - 6 * H), "complete_since": t(NOW - 30 * 24 * H)},
    ],
    "ledger": ledger,
    "cases": cases,
}
with open(__file__.replace("generate.py", "verify_corpus.json"), "w") as f:
    json.dump(corpus, f, indent=1)
print(len(ledger), "records,", len(cases), "cases")
