"""English texts of the document page's actions (collect a payment, e-mail) and the company's data, keyed by the Romanian text."""

EN: dict[str, str] = {
    # collecting and deleting payments
    "Alegeți tipul încasării.": "Choose the payment type.",
    "Chitanța nu a fost găsită.": "The receipt was not found.",
    "Doar facturile emise pot fi încasate.": "Only issued invoices can be collected.",
    "Seria chitanței": "Receipt series",
    "Seria chitanței contează doar pentru tipul Chitanta.": "The receipt series matters only for the Chitanta type.",
    "Suma încasării nu este un număr.": "The payment amount is not a number.",
    "Suma încasării trebuie completată.": "Fill in the payment amount.",
    "Încasarea nu a fost găsită.": "The payment was not found.",
    "Încasarea {label} a fost înregistrată.": "The payment {label} was recorded.",
    "Încasarea {label} a fost ștearsă.": "The payment {label} was deleted.",
    "Încasează": "Collect",
    "Înregistrează încasarea": "Record the payment",
    "Șterge": "Delete",
    "Ștergeți încasarea? Suma revine la rest de plată.": "Delete the payment? The amount becomes due again.",
    # e-mailing a document
    "Configurați-l în Setări → E-mail": "Set it up in Settings → E-mail",
    "Câmpurile #tip document#, #serie numar document#, #link document# și celelalte se completează la trimitere; "
    "documentul PDF se atașează.":
        "The fields #tip document#, #serie numar document#, #link document# and the others are filled in when "
        "the message is sent; the PDF document is attached.",
    "Doar facturile și proformele se trimit pe e-mail.": "Only invoices and proformas are sent by e-mail.",
    "Documentul nu a fost trimis pe e-mail.": "The document has not been sent by e-mail.",
    "E-mailul către {to} a fost pus în coada de trimitere.": "The e-mail to {to} was queued for sending.",
    "E-mailuri": "E-mails",
    "Firma nu are configurat un server de e-mail (SMTP).": "The company has no e-mail (SMTP) server set up.",
    "Mesaj": "Message",
    "Trimis la": "Sent at",
    "Trimite": "Send",
    "Trimite pe e-mail": "Send by e-mail",
    "adresa clientului": "the client's address",
    "încercări": "attempts",
    # the company's data
    "Banca": "Bank",
    "CIF-ul nu se poate schimba. Documentele deja emise își păstrează datele de la emitere; doar documentele "
    "emise de acum înainte primesc datele noi.":
        "The CIF cannot change. Documents already issued keep the data they were issued with; only documents "
        "issued from now on get the new data.",
    "Datele firmei au fost salvate.": "The company's data was saved.",
    "Datele firmei nu s-au schimbat.": "The company's data did not change.",
    "Modifică datele firmei": "Change the company's data",
    # the VAT status
    "Alegeți noul statut de TVA.": "Choose the new VAT status.",
    "Data de la care se aplică noul statut trebuie completată.": "Fill in the date the new status applies from.",
    "Facturi recurente oprite: {count}.": "Recurring invoices stopped: {count}.",
    "Istoricul doar crește: noul statut se aplică de la data aleasă, ulterioară ultimei schimbări. Trecerea "
    "între plătitor și neplătitor oprește facturile recurente și dezactivează listele de prețuri speciale.":
        "The history only grows: the new status applies from the date chosen, later than the last change. "
        "Moving between VAT payer and non-payer stops the recurring invoices and deactivates the special price lists.",
    "Liste de prețuri dezactivate: {names}.": "Price lists deactivated: {names}.",
    "Noul statut de TVA se aplică de la {day}.": "The new VAT status applies from {day}.",
    "Schimbați statutul de TVA al firmei?": "Change the company's VAT status?",
    "Schimbă statutul": "Change the status",
    "Schimbă statutul de TVA": "Change the VAT status",
    "Statut nou": "New status",
    "plătitor de TVA, cu TVA la încasare": "VAT payer, with VAT on collection",
    # the Stripe payment link of a document
    "Documentul nu are un link de plată.": "The document has no payment link.",
    "Generează link de plată": "Make a payment link",
    "Link de plată": "Payment link",
    "Linkul de plată: {url}": "The payment link: {url}",
    "Plată online (Stripe)": "Online payment (Stripe)",
    "Ultima încercare a eșuat:": "The last attempt failed:",
    "activ": "active",
    "expirat": "expired",
}
