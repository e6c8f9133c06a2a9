//! The words of our pages in English and French (`language-customization.md`: B2C shows its
//! built-in pages in the user's language). The page's language is `ui_locales`, else the
//! browser's `Accept-Language`; a language we do not have is shown in English.
//!
//! Two tables: the pages' own words (buttons, links, notes), by key; and the built-in texts
//! user flows and the engine produce (labels, titles, errors), by their English wording. A
//! policy's own strings that are not in the second table stay as the policy wrote them.

use std::collections::BTreeMap;

/// The languages the pages speak.
pub const LANGUAGES: &[&str] = &["en", "fr"];

/// `(key, English, French)`.
const CHROME: &[(&str, &str, &str)] = &[
    ("sign_in", "Sign in", "Se connecter"),
    ("continue", "Continue", "Continuer"),
    ("cancel", "Cancel", "Annuler"),
    (
        "send_code",
        "Send verification code",
        "Envoyer le code de vérification",
    ),
    ("send_new_code", "Send new code", "Envoyer un nouveau code"),
    ("verify_code", "Verify code", "Vérifier le code"),
    ("change_email", "Change e-mail", "Modifier l'adresse e-mail"),
    (
        "forgot_password",
        "Forgot your password?",
        "Mot de passe oublié ?",
    ),
    (
        "no_account",
        "Don't have an account?",
        "Vous n'avez pas de compte ?",
    ),
    ("sign_up_now", "Sign up now", "Inscrivez-vous maintenant"),
    (
        "have_account",
        "Already have an account?",
        "Vous avez déjà un compte ?",
    ),
    (
        "providers_intro",
        "Sign in with your social or work account",
        "Connectez-vous avec votre compte social ou professionnel",
    ),
    (
        "retype",
        "Passwords are never kept: please type it again.",
        "Les mots de passe ne sont jamais conservés : saisissez-le à nouveau.",
    ),
    ("is_it_yours", "Is it yours?", "Est-ce le vôtre ?"),
    ("sign_in_with_it", "Sign in with it", "Connectez-vous avec"),
    ("or", "or", "ou"),
    (
        "reset_password",
        "reset your password",
        "réinitialisez votre mot de passe",
    ),
    (
        "reset_hint",
        "(choose \"Forgot your password?\" on the sign-in page).",
        "(choisissez « Mot de passe oublié ? » sur la page de connexion).",
    ),
    ("busy", "Please wait…", "Veuillez patienter…"),
    ("busy_send", "Sending the code…", "Envoi du code…"),
    ("busy_verify", "Checking the code…", "Vérification du code…"),
    ("show_password", "Show password", "Afficher le mot de passe"),
    ("hide_password", "Hide password", "Masquer le mot de passe"),
    ("home", "Home", "Accueil"),
    (
        "back_to_app",
        "Back to the application",
        "Retour à l'application",
    ),
    (
        "error_title",
        "Sorry, something went wrong",
        "Désolé, une erreur s'est produite",
    ),
    ("skip_to_form", "Skip to the form", "Aller au formulaire"),
    (
        "no_script",
        "JavaScript is off: select Continue to return to the application.",
        "JavaScript est désactivé : choisissez Continuer pour revenir à l'application.",
    ),
];

/// Built-in texts by their English wording → French.
const TEXTS: &[(&str, &str)] = &[
    ("You can't continue", "Vous ne pouvez pas continuer"),
    (
        "Sign in with your email address",
        "Connectez-vous avec votre adresse e-mail",
    ),
    (
        "Sign up with your email address",
        "Inscrivez-vous avec votre adresse e-mail",
    ),
    ("Reset your password", "Réinitialisez votre mot de passe"),
    (
        "Choose a new password",
        "Choisissez un nouveau mot de passe",
    ),
    ("Update your profile", "Modifiez votre profil"),
    ("Tell us about yourself", "Parlez-nous de vous"),
    ("Sign in", "Se connecter"),
    ("Email Address", "Adresse e-mail"),
    ("Password", "Mot de passe"),
    ("New Password", "Nouveau mot de passe"),
    ("Confirm New Password", "Confirmez le nouveau mot de passe"),
    ("Given Name", "Prénom"),
    ("Surname", "Nom"),
    ("Display Name", "Nom d'affichage"),
    ("City", "Ville"),
    ("Country/Region", "Pays/Région"),
    ("Postal Code", "Code postal"),
    ("State/Province", "État/Province"),
    ("Street Address", "Adresse"),
    ("Job Title", "Fonction"),
    ("Verification Code", "Code de vérification"),
    ("Verification code", "Code de vérification"),
    (
        "The code we sent to your e-mail address.",
        "Le code envoyé à votre adresse e-mail.",
    ),
    (
        "This information is required.",
        "Cette information est obligatoire.",
    ),
    (
        "The password entry fields do not match. Please enter the same password in both fields and try again.",
        "Les mots de passe saisis ne correspondent pas. Saisissez le même mot de passe dans les deux champs, puis réessayez.",
    ),
    (
        "The password must be between 8 and 64 characters.",
        "Le mot de passe doit comporter entre 8 et 64 caractères.",
    ),
    (
        "The password must have at least 3 of the following: a lowercase letter, an uppercase letter, a digit, a symbol.",
        "Le mot de passe doit contenir au moins 3 des éléments suivants : une minuscule, une majuscule, un chiffre, un symbole.",
    ),
    (
        "Please enter a valid email address.",
        "Saisissez une adresse e-mail valide.",
    ),
    (
        "Verification code has been sent to your inbox. Please copy it to the input box below.",
        "Un code de vérification a été envoyé dans votre boîte de réception. Copiez-le dans le champ ci-dessous.",
    ),
    (
        "E-mail address verified. You can now continue.",
        "Adresse e-mail vérifiée. Vous pouvez continuer.",
    ),
    (
        "That code is incorrect. Please try again.",
        "Ce code est incorrect. Réessayez.",
    ),
    (
        "That code is expired. Please request a new code.",
        "Ce code a expiré. Demandez un nouveau code.",
    ),
    (
        "You've made too many incorrect attempts. Please request a new code.",
        "Vous avez fait trop de tentatives incorrectes. Demandez un nouveau code.",
    ),
    (
        "Please request a verification code first.",
        "Demandez d'abord un code de vérification.",
    ),
    (
        "We can't seem to find your account.",
        "Nous ne trouvons pas votre compte.",
    ),
    (
        "Your password is incorrect.",
        "Votre mot de passe est incorrect.",
    ),
    (
        "A user with the specified ID already exists. Please choose a different one.",
        "Un utilisateur avec cet identifiant existe déjà. Choisissez-en un autre.",
    ),
    (
        "The request could not be completed. Please try again later.",
        "La demande n'a pas pu aboutir. Réessayez plus tard.",
    ),
];

/// The pages' words in one language.
pub fn chrome(lang: &str) -> BTreeMap<&'static str, &'static str> {
    let french = lang == "fr";
    CHROME
        .iter()
        .map(|(key, en, fr)| (*key, if french { *fr } else { *en }))
        .collect()
}

/// A built-in text in `lang`, or the text as it is.
pub fn text<'a>(lang: &str, english: &'a str) -> &'a str {
    if lang != "fr" {
        return english;
    }
    TEXTS
        .iter()
        .find(|(en, _)| *en == english)
        .map_or(english, |(_, fr)| fr)
}

/// A journey's page with its built-in texts in `lang` (the policy's own stay as written).
pub fn page(page: &trustframe_engine::Page, lang: &str) -> trustframe_engine::Page {
    let mut page = page.clone();
    if lang == "en" {
        return page;
    }
    let tr = |s: &mut String| {
        let t = text(lang, s);
        if t != s.as_str() {
            *s = t.to_owned();
        }
    };
    tr(&mut page.title);
    page.error.iter_mut().for_each(tr);
    for f in &mut page.fields {
        tr(&mut f.label);
        f.help_text.iter_mut().for_each(tr);
        f.error.iter_mut().for_each(tr);
    }
    for c in &mut page.controls {
        c.message.iter_mut().for_each(tr);
    }
    page
}

/// The language a page speaks: the first of `culture` (`fr-CA`) that we have, else English.
pub fn language(culture: &str) -> &'static str {
    let primary = culture
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|l| **l == primary)
        .copied()
        .unwrap_or("en")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_pages_say_french_words_and_unknown_texts_stay() {
        assert_eq!(language("fr-CA"), "fr");
        assert_eq!(language("de-DE"), "en");
        assert_eq!(chrome("fr")["send_code"], "Envoyer le code de vérification");
        assert_eq!(chrome("en")["send_code"], "Send verification code");
        assert_eq!(text("fr", "Email Address"), "Adresse e-mail");
        assert_eq!(text("fr", "Loyalty number"), "Loyalty number");
        assert_eq!(text("en", "Email Address"), "Email Address");
        // Every key has both languages, and no key twice.
        let mut keys: Vec<_> = CHROME.iter().map(|(k, _, _)| k).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), CHROME.len());
    }
}
