package web

import (
	"fmt"
	"strconv"

	"github.com/tamtam-ngo/tamtam/collector"
)

// messages are the words of the pages, by key. Questionnaire texts come from the
// definitions; these are only the words around them. Plain language: the people who read
// them work in a prison office, often in their second language.
var messages = map[string]collector.Text{
	"app":          {FR: "tamtam", NL: "tamtam", EN: "tamtam"},
	"skip":         {FR: "Aller au contenu", NL: "Naar de inhoud", EN: "Skip to content"},
	"nav":          {FR: "Menu", NL: "Menu", EN: "Menu"},
	"nav_forms":    {FR: "Questionnaires", NL: "Vragenlijsten", EN: "Questionnaires"},
	"nav_import":   {FR: "Importer des formulaires papier", NL: "Papieren formulieren importeren", EN: "Import paper forms"},
	"nav_reports":  {FR: "Tableau de bord", NL: "Dashboard", EN: "Dashboard"},
	"nav_audit":    {FR: "Journal d'audit", NL: "Auditlogboek", EN: "Audit log"},
	"signout":      {FR: "Se déconnecter", NL: "Afmelden", EN: "Sign out"},
	"language":     {FR: "Langue", NL: "Taal", EN: "Language"},
	"signed_in_as": {FR: "Connecté·e :", NL: "Aangemeld:", EN: "Signed in:"},

	"login_title":        {FR: "Se connecter", NL: "Aanmelden", EN: "Sign in"},
	"login_intro":        {FR: "Collez le jeton que la coordination vous a donné. Il reste sur cet ordinateur le temps de la session seulement.", NL: "Plak het token dat de coördinatie u gaf. Het blijft alleen tijdens de sessie op deze computer.", EN: "Paste the token the coordinator gave you. It stays on this computer for the session only."},
	"token_label":        {FR: "Jeton", NL: "Token", EN: "Token"},
	"signin":             {FR: "Se connecter", NL: "Aanmelden", EN: "Sign in"},
	"login_failed":       {FR: "Ce jeton ne fonctionne pas : il est inconnu, expiré ou révoqué. Vérifiez-le ou demandez-en un nouveau.", NL: "Dit token werkt niet: het is onbekend, verlopen of ingetrokken. Controleer het of vraag een nieuw.", EN: "This token does not work: it is unknown, expired or revoked. Check it or ask for a new one."},
	"login_missing":      {FR: "Collez votre jeton dans le champ.", NL: "Plak uw token in het veld.", EN: "Paste your token in the field."},
	"too_many_attempts":  {FR: "Trop d'essais de connexion : attendez quelques secondes puis réessayez.", NL: "Te veel aanmeldpogingen: wacht enkele seconden en probeer opnieuw.", EN: "Too many sign-in attempts: wait a few seconds, then try again."},
	"upload_in_progress": {FR: "Un autre fichier envoyé avec ce jeton est encore en cours de lecture : attendez qu'il soit fini puis réessayez.", NL: "Een ander bestand dat met dit token is verzonden, wordt nog gelezen: wacht tot het klaar is en probeer opnieuw.", EN: "Another file sent with this token is still being read: wait until it is done, then try again."},
	"too_many_requests":  {FR: "Trop de demandes avec ce jeton : attendez un moment puis réessayez. Rien n'a été enregistré.", NL: "Te veel verzoeken met dit token: wacht even en probeer opnieuw. Er is niets opgeslagen.", EN: "Too many requests with this token: wait a moment, then try again. Nothing was saved."},
	"signed_out":         {FR: "Vous êtes déconnecté·e.", NL: "U bent afgemeld.", EN: "You are signed out."},

	"forms_title": {FR: "Questionnaires", NL: "Vragenlijsten", EN: "Questionnaires"},
	"forms_intro": {FR: "Choisissez le questionnaire à remplir avec la personne.", NL: "Kies de vragenlijst die u met de persoon invult.", EN: "Choose the questionnaire to fill in with the person."},
	"fill":        {FR: "Remplir", NL: "Invullen", EN: "Fill in"},
	"paper":       {FR: "Modèle Excel pour les formulaires papier", NL: "Excel-sjabloon voor papieren formulieren", EN: "Excel template for paper forms"},

	"site":           {FR: "Prison", NL: "Gevangenis", EN: "Prison"},
	"required_if":    {FR: "obligatoire si la question s'applique", NL: "verplicht als de vraag van toepassing is", EN: "required when it applies"},
	"month_format":   {FR: "AAAA-MM", NL: "JJJJ-MM", EN: "YYYY-MM"},
	"required":       {FR: "obligatoire", NL: "verplicht", EN: "required"},
	"only_if":        {FR: "Seulement si", NL: "Alleen als", EN: "Only if"},
	"or":             {FR: "ou", NL: "of", EN: "or"},
	"and":            {FR: "et", NL: "en", EN: "and"},
	"no_answer":      {FR: "Pas de réponse", NL: "Geen antwoord", EN: "No answer"},
	"choose":         {FR: "— Choisir —", NL: "— Kiezen —", EN: "— Choose —"},
	"send":           {FR: "Enregistrer le questionnaire", NL: "Vragenlijst opslaan", EN: "Save the questionnaire"},
	"errors_title":   {FR: "Le questionnaire n'est pas enregistré. Corrigez ces réponses :", NL: "De vragenlijst is niet opgeslagen. Verbeter deze antwoorden:", EN: "The questionnaire is not saved. Correct these answers:"},
	"anonymous_note": {FR: "Anonyme : ne notez ni nom ni numéro. L'âge exact et le pays ne sont pas conservés, seulement des groupes.", NL: "Anoniem: noteer geen naam of nummer. De exacte leeftijd en het land worden niet bewaard, alleen groepen.", EN: "Anonymous: write no name or number. The exact age and the country are not kept, only groups."},
	"saved_title":    {FR: "Questionnaire enregistré", NL: "Vragenlijst opgeslagen", EN: "Questionnaire saved"},
	"saved_text":     {FR: "Merci. Le questionnaire est enregistré de façon anonyme.", NL: "Dank u. De vragenlijst is anoniem opgeslagen.", EN: "Thank you. The questionnaire is saved anonymously."},
	"saved_again":    {FR: "Ce questionnaire avait déjà été enregistré : il n'est compté qu'une fois.", NL: "Deze vragenlijst was al opgeslagen: ze telt maar één keer.", EN: "This questionnaire was already saved: it counts once."},
	"next_person":    {FR: "Personne suivante", NL: "Volgende persoon", EN: "Next person"},
	"conflict":       {FR: "Ce formulaire a déjà été enregistré avec d'autres réponses. Rien n'a été changé. Pour une autre personne, ouvrez un nouveau formulaire.", NL: "Dit formulier is al met andere antwoorden opgeslagen. Er is niets gewijzigd. Open voor een andere persoon een nieuw formulier.", EN: "This form was already saved with other answers. Nothing was changed. For another person, open a new form."},
	"new_form":       {FR: "Nouveau formulaire", NL: "Nieuw formulier", EN: "New form"},
	"unavailable":    {FR: "Le questionnaire n'a pas pu être enregistré maintenant. Vos réponses sont toujours là : réessayez dans une minute.", NL: "De vragenlijst kon nu niet worden opgeslagen. Uw antwoorden staan er nog: probeer over een minuut opnieuw.", EN: "The questionnaire could not be saved now. Your answers are still here: try again in a minute."},

	"import_title":       {FR: "Importer des formulaires papier", NL: "Papieren formulieren importeren", EN: "Import paper forms"},
	"import_intro":       {FR: "Téléchargez le modèle Excel, recopiez-y les formulaires papier (une ligne par personne), puis envoyez le fichier ici. Vérifiez d'abord : rien n'est enregistré tant qu'une ligne a un problème.", NL: "Download het Excel-sjabloon, neem de papieren formulieren over (één rij per persoon) en stuur het bestand hier in. Controleer eerst: er wordt niets opgeslagen zolang een rij een probleem heeft.", EN: "Download the Excel template, copy the paper forms into it (one row per person), then send the file here. Check first: nothing is saved while any row has a problem."},
	"template_for":       {FR: "Modèle Excel :", NL: "Excel-sjabloon:", EN: "Excel template:"},
	"file":               {FR: "Fichier (modèle Excel rempli, ou CSV avec les mêmes en-têtes)", NL: "Bestand (ingevuld Excel-sjabloon, of CSV met dezelfde kolomkoppen)", EN: "File (the filled-in Excel template, or CSV with the same headers)"},
	"questionnaire":      {FR: "Questionnaire", NL: "Vragenlijst", EN: "Questionnaire"},
	"check":              {FR: "Vérifier sans enregistrer", NL: "Controleren zonder op te slaan", EN: "Check without saving"},
	"import":             {FR: "Importer", NL: "Importeren", EN: "Import"},
	"import_no_file":     {FR: "Choisissez un fichier.", NL: "Kies een bestand.", EN: "Choose a file."},
	"import_unreadable":  {FR: "Le fichier n'a pas pu être lu", NL: "Het bestand kon niet worden gelezen", EN: "The file could not be read"},
	"import_unavailable": {FR: "Le fichier n'a pas pu être vérifié maintenant (la base de données ne répond pas). Rien n'est enregistré : réessayez dans une minute.", NL: "Het bestand kon nu niet worden gecontroleerd (de databank antwoordt niet). Er is niets opgeslagen: probeer over een minuut opnieuw.", EN: "The file could not be checked now (the database does not answer). Nothing is saved: try again in a minute."},
	"rows_read":          {FR: "Lignes de questionnaire lues", NL: "Gelezen vragenlijstrijen", EN: "Questionnaire rows read"},
	"problems":           {FR: "Problèmes", NL: "Problemen", EN: "Problems"},
	"rows_problems":      {FR: "Lignes avec un problème", NL: "Rijen met een probleem", EN: "Rows with a problem"},
	"would_store":        {FR: "Seraient enregistrés", NL: "Zouden worden opgeslagen", EN: "Would be saved"},
	"already_there":      {FR: "Déjà enregistrés", NL: "Al opgeslagen", EN: "Already saved"},
	"stored":             {FR: "Enregistrés", NL: "Opgeslagen", EN: "Saved"},
	"repeats":            {FR: "Lignes qui répètent une ligne précédente (comptées une fois)", NL: "Rijen die een eerdere rij herhalen (één keer geteld)", EN: "Rows repeating an earlier row (counted once)"},
	"check_ok":           {FR: "Aucun problème. Rien n'est encore enregistré : cliquez sur « Importer » avec le même fichier.", NL: "Geen problemen. Er is nog niets opgeslagen: klik op „Importeren” met hetzelfde bestand.", EN: "No problem. Nothing is saved yet: click \"Import\" with the same file."},
	"check_bad":          {FR: "Rien n'a été enregistré. Corrigez les lignes ci-dessous, puis renvoyez le fichier.", NL: "Er is niets opgeslagen. Verbeter de rijen hieronder en stuur het bestand opnieuw.", EN: "Nothing was saved. Correct the rows below, then send the file again."},
	"import_done":        {FR: "Import terminé.", NL: "Import voltooid.", EN: "Import done."},
	"no_rows":            {FR: "Le fichier ne contient aucune ligne de questionnaire (elles commencent à la ligne 3 du modèle).", NL: "Het bestand bevat geen vragenlijstrijen (ze beginnen op rij 3 van het sjabloon).", EN: "The file holds no questionnaire rows (they start at row 3 of the template)."},
	"row":                {FR: "Ligne", NL: "Rij", EN: "Row"},
	"item":               {FR: "Question", NL: "Vraag", EN: "Question"},
	"problem":            {FR: "Problème", NL: "Probleem", EN: "Problem"},
	"annotated":          {FR: "Télécharger le fichier annoté (cellules en faute surlignées et commentées)", NL: "Geannoteerd bestand downloaden (foute cellen gemarkeerd en met opmerking)", EN: "Download the annotated file (faulty cells highlighted and commented)"},
	"same_as_row":        {FR: "mêmes réponses que la ligne", NL: "zelfde antwoorden als rij", EN: "same answers as row"},
	"more_problems":      {FR: "… et %s autres problèmes, non listés ici : corrigez d'abord ceux-ci, puis vérifiez à nouveau.", NL: "… en nog %s problemen, hier niet opgesomd: verbeter eerst deze en controleer opnieuw.", EN: "… and %s more problems, not listed here: correct these first, then check again."},
	"annotate_too_big":   {FR: "Le fichier est trop grand pour être annoté (plus de 10 000 lignes environ) : corrigez les lignes listées, ou coupez-le en plusieurs fichiers.", NL: "Het bestand is te groot om te annoteren (meer dan ongeveer 10.000 rijen): verbeter de opgesomde rijen, of splits het in meerdere bestanden.", EN: "The file is too large to annotate (more than about 10,000 rows): correct the rows listed, or split it into several files."},

	"audit_title":  {FR: "Journal d'audit", NL: "Auditlogboek", EN: "Audit log"},
	"audit_intro":  {FR: "Qui a fait quoi et quand : connexions, jetons, rapports, exports et imports. Jamais de réponses ni de jetons.", NL: "Wie wat wanneer deed: aanmeldingen, tokens, rapporten, exports en imports. Nooit antwoorden of tokens.", EN: "Who did what and when: sign-ins, tokens, reports, exports and imports. Never answers or tokens."},
	"since":        {FR: "Depuis le", NL: "Sinds", EN: "Since"},
	"action":       {FR: "Action", NL: "Actie", EN: "Action"},
	"show":         {FR: "Afficher", NL: "Tonen", EN: "Show"},
	"time":         {FR: "Moment (UTC)", NL: "Tijdstip (UTC)", EN: "Time (UTC)"},
	"actor":        {FR: "Qui (jeton)", NL: "Wie (token)", EN: "Who (token)"},
	"role":         {FR: "Rôle", NL: "Rol", EN: "Role"},
	"sites":        {FR: "Prisons", NL: "Gevangenissen", EN: "Prisons"},
	"detail":       {FR: "Détail", NL: "Detail", EN: "Detail"},
	"outcome":      {FR: "Résultat", NL: "Resultaat", EN: "Outcome"},
	"no_events":    {FR: "Aucun événement.", NL: "Geen gebeurtenissen.", EN: "No events."},
	"any":          {FR: "toutes", NL: "alle", EN: "any"},
	"bad_date":     {FR: "Date invalide : utilisez AAAA-MM-JJ.", NL: "Ongeldige datum: gebruik JJJJ-MM-DD.", EN: "Invalid date: use YYYY-MM-DD."},
	"events_shown": {FR: "événements affichés (les plus récents d'abord, 500 au plus)", NL: "getoonde gebeurtenissen (de recentste eerst, hoogstens 500)", EN: "events shown (newest first, 500 at most)"},

	"error_title":     {FR: "Problème", NL: "Probleem", EN: "Problem"},
	"forbidden_role":  {FR: "Cette page n'est pas prévue pour votre rôle.", NL: "Deze pagina is niet voor uw rol bedoeld.", EN: "This page is not meant for your role."},
	"forbidden_site":  {FR: "Votre jeton ne permet pas d'utiliser cette prison.", NL: "Uw token geeft geen toegang tot deze gevangenis.", EN: "Your token does not allow this prison."},
	"csrf":            {FR: "Le formulaire a expiré ou vient d'une autre page. Rechargez la page et recommencez.", NL: "Het formulier is verlopen of komt van een andere pagina. Herlaad de pagina en probeer opnieuw.", EN: "The form has expired or comes from another page. Reload the page and try again."},
	"session_expired": {FR: "Votre session a expiré. Reconnectez-vous.", NL: "Uw sessie is verlopen. Meld u opnieuw aan.", EN: "Your session has expired. Sign in again."},
	"too_large":       {FR: "Ce qui a été envoyé est trop grand (un fichier de 32 Mo au plus). Coupez-le en plusieurs fichiers.", NL: "Wat verstuurd werd is te groot (een bestand van hoogstens 32 MB). Splits het in meerdere bestanden.", EN: "What was sent is too large (a file of 32 MB at most). Split it into several files."},
	"busy":            {FR: "D'autres fichiers sont en cours de lecture : réessayez dans quelques secondes.", NL: "Er worden al andere bestanden gelezen: probeer over enkele seconden opnieuw.", EN: "Other files are being read: try again in a few seconds."},
	"bad_form":        {FR: "Le formulaire envoyé n'a pas pu être lu. Rechargez la page et recommencez.", NL: "Het verstuurde formulier kon niet worden gelezen. Herlaad de pagina en probeer opnieuw.", EN: "The form sent could not be read. Reload the page and try again."},
	"not_found":       {FR: "Cette page n'existe pas.", NL: "Deze pagina bestaat niet.", EN: "This page does not exist."},
	"internal":        {FR: "Une erreur interne s'est produite. Elle a été notée ; réessayez plus tard.", NL: "Er is een interne fout opgetreden. Ze is genoteerd; probeer later opnieuw.", EN: "An internal error occurred. It has been logged; try again later."},
	"back_home":       {FR: "Retour à l'accueil", NL: "Terug naar het begin", EN: "Back to the start"},
}

// fieldMessages explain each validation code in plain words, beside the item.
var fieldMessages = map[string]collector.Text{
	collector.ErrMissingRequired: {FR: "Cette question est obligatoire.", NL: "Deze vraag is verplicht.", EN: "This question is required."},
	collector.ErrNotApplicable:   {FR: "Cette question ne s'applique pas avec les réponses données plus haut : laissez-la vide (ou « Pas de réponse »).", NL: "Deze vraag geldt niet bij de antwoorden hierboven: laat ze leeg (of „Geen antwoord”).", EN: "This question does not apply given the answers above: leave it empty (or \"No answer\")."},
	collector.ErrInvalidChoice:   {FR: "Choisissez une des réponses proposées.", NL: "Kies een van de voorgestelde antwoorden.", EN: "Choose one of the answers offered."},
	collector.ErrDuplicateChoice: {FR: "Une réponse est cochée deux fois.", NL: "Een antwoord is twee keer aangevinkt.", EN: "An answer is ticked twice."},
	collector.ErrWrongType:       {FR: "Réponse au mauvais format.", NL: "Antwoord in het verkeerde formaat.", EN: "Answer in the wrong format."},
	collector.ErrBadMonth:        {FR: "Indiquez un mois sous la forme AAAA-MM (par exemple 2025-03).", NL: "Geef een maand als JJJJ-MM (bijvoorbeeld 2025-03).", EN: "Give a month as YYYY-MM (for example 2025-03)."},
	collector.ErrMonthFuture:     {FR: "Ce mois est dans le futur.", NL: "Deze maand ligt in de toekomst.", EN: "This month is in the future."},
	collector.ErrMonthTooEarly:   {FR: "Ce mois est trop ancien.", NL: "Deze maand is te oud.", EN: "This month is too early."},
	collector.ErrAboveItem:       {FR: "Ce nombre ne peut pas dépasser la réponse à la question dont il dépend (l'âge).", NL: "Dit getal mag niet hoger zijn dan het antwoord op de vraag waarvan het afhangt (de leeftijd).", EN: "This number cannot be above the answer it depends on (the age)."},
	collector.ErrNotSubset:       {FR: "Cochez seulement des réponses aussi cochées à la question précédente dont celle-ci dépend.", NL: "Vink alleen antwoorden aan die ook bij de vorige vraag waarvan deze afhangt zijn aangevinkt.", EN: "Tick only answers also ticked in the earlier question this one depends on."},
	collector.ErrEmptyAnswer:     {FR: "La réponse est vide.", NL: "Het antwoord is leeg.", EN: "The answer is empty."},
	collector.ErrIdentifierLike:  {FR: "Cela ressemble à un identifiant (nom, numéro) : n'en notez pas ici.", NL: "Dit lijkt op een identificatiegegeven (naam, nummer): noteer dat hier niet.", EN: "This looks like an identifier (a name, a number): do not write one here."},
	collector.ErrUnknownSite:     {FR: "Choisissez une prison de la liste.", NL: "Kies een gevangenis uit de lijst.", EN: "Choose a prison from the list."},
	collector.ErrSiteNotAllowed:  {FR: "Votre jeton ne permet pas d'utiliser cette prison.", NL: "Uw token geeft geen toegang tot deze gevangenis.", EN: "Your token does not allow this prison."},
	collector.ErrInvalidID:       {FR: "Le formulaire est abîmé : ouvrez un nouveau formulaire.", NL: "Het formulier is beschadigd: open een nieuw formulier.", EN: "The form is damaged: open a new form."},
	collector.ErrUnknownVersion:  {FR: "Cette version du questionnaire n'existe plus : ouvrez un nouveau formulaire.", NL: "Deze versie van de vragenlijst bestaat niet meer: open een nieuw formulier.", EN: "This version of the questionnaire no longer exists: open a new form."},
	errNotNumber:                 {FR: "Écrivez un nombre entier, en chiffres.", NL: "Schrijf een geheel getal, in cijfers.", EN: "Write a whole number, in digits."},
	errOneChoice:                 {FR: "Une seule réponse possible.", NL: "Maar één antwoord mogelijk.", EN: "Only one answer is possible."},
}

// errNotNumber and errOneChoice are problems the page finds before validation: a number
// field holding something else, two values for a one-answer question (a tampered form).
const (
	errNotNumber = collector.ErrWrongType + "/number"
	errOneChoice = collector.ErrWrongType + "/choice"
)

// fieldMessage returns the plain explanation of a field error for item it (nil for an
// envelope field), in lang. A range gets its bounds; an unknown code falls back to the
// English message of the validator.
func fieldMessage(fe collector.FieldError, it *collector.Item, lang string) string {
	if fe.Code == collector.ErrOutOfRange && it != nil && it.Min != nil && it.Max != nil {
		lo, hi := strconv.Itoa(*it.Min), strconv.Itoa(*it.Max)
		return fmt.Sprintf(collector.Text{FR: "Indiquez un nombre entre %s et %s.", NL: "Geef een getal tussen %s en %s.", EN: "Give a number between %s and %s."}.In(lang), lo, hi)
	}
	if m, ok := fieldMessages[fe.Code]; ok {
		return m.In(lang)
	}
	return fe.Message
}

// word returns the page text key in lang; a missing key shows itself, so that a test
// notices it.
func word(key, lang string) string {
	if m, ok := messages[key]; ok {
		return m.In(lang)
	}
	return "[" + key + "]"
}
