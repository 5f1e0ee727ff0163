"""English texts of the SMTP and ANAF connection settings, keyed by the Romanian text."""

EN: dict[str, str] = {
    "E-mail (SMTP)": "E-mail (SMTP)",
    "Conexiune ANAF": "ANAF connection",
    # e-mail (SMTP) tab
    "Serverul de e-mail (SMTP)": "Mail server (SMTP)",
    "Server": "Server",
    "Utilizator": "User",
    "salvată (criptată)": "saved (encrypted)",
    "Expeditor": "Sender",
    "Serverul de e-mail nu este configurat: documentele nu pot fi trimise pe e-mail.":
        "The mail server is not configured: documents cannot be sent by e-mail.",
    "Modifică serverul": "Change the server",
    "Configurează serverul": "Set up the server",
    "Server SMTP": "SMTP server",
    "Port": "Port",
    "Securitate": "Security",
    "Așteptare (secunde)": "Timeout (seconds)",
    "Portul gol înseamnă portul obișnuit al securității alese: 587 STARTTLS, 465 SSL, 25 fără.":
        "An empty port means the usual port of the chosen security: 587 STARTTLS, 465 SSL, 25 none.",
    "Șterge parola salvată": "Delete the saved password",
    "Parola nu este afișată niciodată. Lăsați câmpul gol pentru a păstra parola salvată.":
        "The password is never shown. Leave the field empty to keep the saved password.",
    "Adresa expeditorului": "Sender address",
    "Numele expeditorului": "Sender name",
    "Cc implicit": "Default Cc",
    "Bcc implicit": "Default Bcc",
    "Trimite e-mail de test": "Send a test e-mail",
    "Către": "To",
    "Mesajul pleacă imediat, nu prin coadă; vedeți mai jos răspunsul serverului.":
        "The message leaves at once, not through the queue; the server's answer is shown below.",
    "Ultimele mesaje trimise": "Latest outgoing messages",
    "Creat": "Created",
    "Încercări": "Attempts",
    "Destinatari": "Recipients",
    "Subiect": "Subject",
    "Niciun mesaj încă.": "No messages yet.",
    "Trimis": "Sent",
    "Notificare": "Notice",
    "Test": "Test",
    "Serverul de e-mail a fost salvat: {host}:{port}.": "The mail server was saved: {host}:{port}.",
    "Mesajul de test a fost trimis la {to}. Serverul a răspuns: {answer}":
        "The test message was sent to {to}. The server answered: {answer}",
    "Mesajul de test nu a fost trimis: {error}": "The test message was not sent: {error}",
    # ANAF connection tab
    "Neconectată": "Not connected",
    "Conectată": "Connected",
    "Reautorizare necesară în curând": "Reauthorization needed soon",
    "Reautorizare necesară": "Reauthorization needed",
    "Sandbox punte (offline)": "punte sandbox (offline)",
    "ANAF test": "ANAF test",
    "ANAF producție": "ANAF production",
    "același token servește firmele": "the same token serves the companies",
    "Conexiunea la e-Factura (SPV)": "Connection to e-Factura (SPV)",
    "e-Factura activat": "e-Factura on",
    "Trimitere automată": "Automatic sending",
    "Token de acces valabil până la": "Access token valid until",
    "Autorizare valabilă până la": "Authorization valid until",
    "Adresa de întoarcere (callback)": "Return address (callback)",
    "Autorizarea salvată este pentru alt mediu decât cel ales (sandbox față de ANAF): conectați-vă din nou.":
        "The saved authorization is for another environment than the chosen one (sandbox versus ANAF): "
        "connect again.",
    "Autorizare": "Authorization",
    "Deschideți conectarea cu certificatul calificat al persoanei cu drept în SPV pentru firmă. ANAF trimite "
    "browserul înapoi aici; punte reîmprospătează singur tokenul.":
        "Open the connection with the qualified certificate of the person with SPV rights for the company. "
        "ANAF sends the browser back here; punte refreshes the token on its own.",
    "Conectează la ANAF": "Connect to ANAF",
    "Reautorizează la ANAF": "Reauthorize at ANAF",
    "Mediul sandbox este ANAF-ul offline din punte: autorizarea se încheie fără certificat.":
        "The sandbox environment is punte's offline ANAF: the authorization completes without a certificate.",
    "Setări e-Factura": "e-Factura settings",
    "Trimite automat fiecare factură emisă": "Send every issued invoice automatically",
    "Salvează și activează e-Factura": "Save and turn e-Factura on",
    "Dezactivați e-Factura pentru firmă?": "Turn e-Factura off for the company?",
    "Dezactivează e-Factura": "Turn e-Factura off",
    "Schimbarea mediului se aplică facturilor trimise de acum încolo. Mediile test și producție folosesc aceeași "
    "autorizare ANAF; sandboxul are autorizarea lui.":
        "A change of environment applies to invoices sent from now on. The test and production environments "
        "share one ANAF authorization; the sandbox has its own.",
    "automat": "automatic",
    "doar la cerere": "on request only",
    "e-Factura este activat: mediul {env}, trimitere {sending}.":
        "e-Factura is on: environment {env}, sending {sending}.",
    "e-Factura este dezactivat; trimiterile începute se încheie.":
        "e-Factura is off; submissions under way still finish.",
    "Firma {name} (CIF {cif}) este conectată la ANAF; autorizarea este valabilă până la {until}.":
        "{name} (CIF {cif}) is connected to ANAF; the authorization is valid until {until}.",
    "Conectarea la ANAF a eșuat: {error}": "The connection to ANAF failed: {error}",
}
