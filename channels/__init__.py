"""Message channels: email, SMS, voice, webhook and the outbox, behind one small protocol."""
