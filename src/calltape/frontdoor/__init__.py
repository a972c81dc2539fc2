"""The SIP front door: who is calling (digest, trusted networks, signed forwards), the registrar, INVITE
admission (which account, which callflow) and the routing of in-dialog requests to the calls they belong to."""
