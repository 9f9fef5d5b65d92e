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
def case(name, said, claim, expect, reason=None, action=None):
    c = {"name": name, "said": said, "claim": claim, "expect": expect}
    if reason: c["expect_reason"] = reason
    if action: c["expect_action"] = action
    cases.append(c)

# Processor-style descriptors a second card alert records, and what customers call them.
DESCRIPTORS = [
    ("AMZN Mktp US*2K4LT0QA3", "Amazon", "23.47"), ("SQ *BLUE BOTTLE COFFEE", "Blue Bottle", "6.75"),
    ("PAYPAL *NETFLIX", "Netflix", "15.49"), ("TST* SHAKE SHACK 1234", "Shake Shack", "18.20"),
    ("DD *DOORDASH CHIPOTLE", "DoorDash", "31.08"), ("GOOGLE *YouTubePremium", "YouTube", "13.99"),
    ("UBER *EATS", "Uber Eats", "27.55"), ("SBUX 12345", "Starbucks", "5.85"),
    ("WM SUPERCENTER #5421", "Walmart", "64.12"), ("MSFT *XBOX", "Xbox", "59.99"),
    ("APL*APPLE ONLINE STORE", "Apple", "129.00"), ("PP*SPOTIFYUSA", "Spotify", "11.99"),
]

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

    # A second genuine card alert the same afternoon, 40 minutes after the first.
    ddesc, dspoken, damount = DESCRIPTORS[i]
    t_second = t_auth + 40 * M
    rec(source="card-alerts", id=f"{cust}-auth2", customer_id=cust, channel="sms", sender="ACMEBANK", sent_at=t(t_second),
        category="card_auth", template_id="card-auth-v3",
        body=f"ACME Bank: Did you authorise ${damount} at {ddesc} on card ending {card}? Reply Y or N. Questions: 1-800-555-0199")

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
    # --- the paired pattern around genuine texts: the customer really got card alerts that
    # afternoon; the attacker cites a different, forged one. Nothing we sent fits: not_sent.
    fa2 = f"{dollars * 3 + 1000:,.2f}"
    fm = ["Coinbase", "Zelle", "Western Union", "Crypto.com"][i % 4]  # nobody's genuine merchant
    case(f"{cust}: forged alert an hour after a genuine one, with a callback number",
         f"I'm calling about the text you sent, ${fa2} at {fm}, it said to call {ATTACKER_NUMBERS[(i + 1) % 4]}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth + 60 * M),
          "mentions": {"amount": fa2, "merchant": fm, "callback_number": ATTACKER_NUMBERS[(i + 1) % 4]}}, "not_sent", None, "callback")
    case(f"{cust}: forged alert citing every cue wrong, on a day with genuine alerts",
         f"The text said ${fa2} at {fm} on my card ending {wrong_card}, call {ATTACKER_NUMBERS[i % 4]}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth + 20 * M), "sender_seen": "ACMEBANK",
          "mentions": {"amount": fa2, "merchant": fm, "card_last4": wrong_card, "callback_number": ATTACKER_NUMBERS[i % 4]}}, "not_sent", None, "callback")
    case(f"{cust}: forged text quoted word for word near a genuine one",
         "It said my account was locked and to call a number",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_second + 10 * M),
          "mentions": {"text": f"ACME Bank: your account is locked. Call {ATTACKER_NUMBERS[(i + 2) % 4]} now to restore access"}}, "not_sent", None, "callback")
    case(f"{cust}: forged text from a lookalike sender near a genuine one",
         f"It came from ACMEBNK about ${fa2} at {fm}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth + 30 * M), "sender_seen": "ACMEBNK",
          "mentions": {"amount": fa2, "merchant": fm}}, "not_sent", None, "callback")
    # --- genuine customers on that day, remembering imperfectly: the right one of the two
    case(f"{cust}: the second alert, by the name people say",
         f"You texted me about {dspoken}, about ${damount}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_second - 25 * M), "mentions": {"merchant": dspoken, "amount": damount}}, "confirmed", None, "proceed")
    case(f"{cust}: the second alert, merchant only",
         f"Did I get a text about {dspoken.lower()} this afternoon?",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_second + 45 * M), "mentions": {"merchant": dspoken.lower()}}, "confirmed", None, "proceed")
    case(f"{cust}: the first alert, rounded, with the other one the same afternoon",
         f"The one about {rounded} dollars at {spoken}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_second), "mentions": {"amount": rounded, "merchant": spoken}}, "confirmed", None, "proceed")
    # --- our alert, but the caller's copy sends them elsewhere: partial, end the call
    case(f"{cust}: our alert, but another number to call",
         f"Yes the ${amount} at {spoken} text, it said to call {ATTACKER_NUMBERS[(i + 3) % 4]}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth + 10 * M),
          "mentions": {"amount": amount, "merchant": spoken, "callback_number": ATTACKER_NUMBERS[(i + 3) % 4]}}, "partial", "cue_mismatch", "callback")
    case(f"{cust}: our alert, but a link that is not ours",
         f"The {spoken} text had a link to acme-bank-verify.com",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth), "mentions": {"merchant": spoken, "url": "https://acme-bank-verify.com/x"}}, "partial", "cue_mismatch", "callback")
    case(f"{cust}: our alert, the wrong card ending",
         f"It was ${amount} at {spoken} on my card ending {wrong_card}",
         {"customer_id": cust, "channel": "sms", "received_at": t(t_auth + 5 * M), "mentions": {"amount": amount, "merchant": spoken, "card_last4": wrong_card}}, "partial", "cue_mismatch", "step_up")
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
