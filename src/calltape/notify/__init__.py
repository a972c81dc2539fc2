"""Notifications by e-mail: Kazoo's voicemail e-mails, their durable outbox's mailer and the SMTP client."""
