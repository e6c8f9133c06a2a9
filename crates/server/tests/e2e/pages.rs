//! The pages as a user without JavaScript meets them: Enter means the page's main action, a
//! server-side error keeps every value but the passwords (and says so), password rules are shown
//! before the first submit, sign-up and reset link back to sign-in, terminal pages link home,
//! and every page has a `lang` and one `<h1>`.

use crate::helpers::*;
use crate::verification::*;

/// The first `<button>` inside the page's main form (B2C's `#localAccountForm` on the sign-in
/// page, `#attributeVerification` on the others): the one Enter presses.
fn default_button(page: &Html) -> String {
    let form = page
        .body
        .find("id=\"attributeVerification\"")
        .or_else(|| page.body.find("id=\"localAccountForm\""))
        .unwrap_or_else(|| panic!("no form: {}", page.body));
    let rest = &page.body[form..];
    let at = rest
        .find("<button")
        .unwrap_or_else(|| panic!("no button: {}", page.body));
    let end = rest[at..].find("</button>").unwrap_or(0);
    rest[at..at + end].to_owned()
}

/// The page's `lang` and its number of `<h1>`.
fn lang_and_headings(body: &str) -> (Option<String>, usize) {
    let lang = body.find("<html lang=\"").map(|at| {
        let rest = &body[at + "<html lang=\"".len()..];
        rest[..rest.find('"').unwrap_or(0)].to_owned()
    });
    (lang, body.matches("<h1").count())
}

fn assert_lang_and_one_h1(body: &str, what: &str) {
    let (lang, h1) = lang_and_headings(body);
    assert!(
        lang.is_some_and(|l| !l.is_empty()),
        "{what}: no lang: {body}"
    );
    assert_eq!(h1, 1, "{what}: {h1} h1: {body}");
}

/// A response's page without following anything (the form_post hand-off is read, not posted).
async fn raw(client: &reqwest::Client, base: &str, mut url: String) -> (u16, String) {
    for _ in 0..10 {
        if !url.starts_with("http") {
            url = format!("{base}{url}");
        }
        let r = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        if r.status().is_redirection() {
            url = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            continue;
        }
        let status = r.status().as_u16();
        return (status, r.text().await.unwrap_or_default());
    }
    panic!("too many redirects")
}

#[tokio::test]
async fn enter_presses_the_main_action_in_every_state_of_the_sign_up_page() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("enter");

    // Sign-in: Enter signs in.
    let page = browser.get(&start).await.page();
    let first = default_button(&page);
    assert!(first.contains(r#"value="continue""#), "{first}");

    // Sign-up, address not verified yet: Enter sends the code.
    let form = browser
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    let first = default_button(&form);
    assert!(
        first.contains(r#"value="emailVerificationControl:SendCode""#),
        "{first}"
    );

    // Code sent: Enter verifies it (not "Send new code").
    let sent = send_code(&browser, &form, &email).await;
    assert_eq!(control_state(&sent), "code_sent");
    let first = default_button(&sent);
    assert!(
        first.contains(r#"value="emailVerificationControl:VerifyCode""#),
        "{first}"
    );

    // Verified: Enter continues, never "Change e-mail".
    let code = mailbox_code(&browser, &email).await;
    let verified = enter_code(&browser, &sent, &code).await;
    assert_eq!(control_state(&verified), "verified");
    let first = default_button(&verified);
    for needle in [
        r#"value="continue""#,
        r#"tabindex="-1""#,
        r#"aria-hidden="true""#,
        r#"class="default-action""#,
    ] {
        assert!(first.contains(needle), "{needle} missing: {first}");
    }
    // The duplicate takes no id: B2C's ids stay unique.
    assert!(!first.contains("id="), "{first}");
    assert_eq!(verified.body.matches(r#"id="continue""#).count(), 1);
    let change = verified
        .body
        .find("emailVerificationControl_but_change_claims")
        .unwrap_or_else(|| panic!("no change button: {}", verified.body));
    let hidden = verified
        .body
        .find("class=\"default-action\"")
        .unwrap_or(usize::MAX);
    assert!(hidden < change, "the default comes first");

    // What the default button posts finishes the sign-up.
    let callback = browser
        .submit(
            &verified,
            &[
                ("email", &email),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("givenName", "Erin"),
                ("surname", "Enter"),
                ("displayName", "Erin Enter"),
                ("action", "continue"),
            ],
        )
        .await
        .callback();
    assert!(callback.get("code").is_some(), "{callback:?}");
}

#[tokio::test]
async fn password_rules_and_the_sign_in_link_show_on_the_first_render() {
    let app = spawn_app(
        r#"
[[user_flows]]
id = "B2C_1_reset"
type = "password_reset"
application_claims = ["email", "objectId"]
"#,
    )
    .await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[("state", "s-1")]);
    let page = browser.get(&start).await.page();
    // The sign-in page does not link to itself.
    assert!(!page.body.contains(r#"id="signIn""#), "{}", page.body);
    let form = browser
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    assert!(
        form.body.contains(
            r#"<div class="help" id="newPassword_help">The password must be between 8 and 64 characters. The password must have at least 3 of the following"#
        ),
        "{}",
        form.body
    );
    assert!(
        form.body.contains(r#"aria-describedby="newPassword_help""#),
        "{}",
        form.body
    );
    // No error yet: no "type it again".
    assert!(!form.body.contains("_retype"), "{}", form.body);

    // "Already have an account? Sign in": the same request again, which shows sign-in.
    assert!(
        form.body.contains("Already have an account?"),
        "{}",
        form.body
    );
    let link = form
        .href_of("signIn")
        .unwrap_or_else(|| panic!("no sign-in link: {}", form.body));
    assert!(
        link.contains("/contoso/B2C_1_susi/oauth2/v2.0/authorize?"),
        "{link}"
    );
    assert!(link.contains("state=s-1"), "{link}");
    let again = browser.get(&link).await.page();
    assert!(again.has_input("signInName"), "{}", again.body);
    assert!(again.href_of("createAccount").is_some());

    // The reset page reached from "Forgot your password?" links back too.
    let forgot = again
        .href_of("forgotPassword")
        .unwrap_or_else(|| panic!("no forgot link: {}", again.body));
    let reset = browser.get(&forgot).await.page();
    assert!(has_verification(&reset), "{}", reset.body);
    assert!(reset.href_of("signIn").is_some(), "{}", reset.body);

    // A reset flow started on its own has no sign-in page to go back to.
    let alone = browser
        .get(&authorize_url(&app, "B2C_1_reset", WEB_CLIENT, &[]))
        .await
        .page();
    assert!(has_verification(&alone), "{}", alone.body);
    assert!(alone.href_of("signIn").is_none(), "{}", alone.body);
}

#[tokio::test]
async fn after_an_error_values_stay_passwords_are_asked_again_and_exists_links_to_sign_in() {
    let app = spawn_app("").await;
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[]);
    let email = unique_email("again");
    sign_up(&Browser::new(&app), &start, &email, "first").await;

    let browser = Browser::new(&app);
    let page = browser.get(&start).await.page();
    let form = browser
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    let form = verify_email(&browser, &form, &email, Codes::Mailbox).await;
    let page = browser
        .submit(
            &form,
            &[
                ("email", &email),
                ("newPassword", PASSWORD),
                ("reenterPassword", PASSWORD),
                ("givenName", "Gina"),
                ("surname", "Again"),
                ("displayName", "Gina Again"),
                ("action", "continue"),
            ],
        )
        .await
        .page();
    assert_eq!(
        page.alert().as_deref(),
        Some("A user with the specified ID already exists. Please choose a different one.")
    );
    for (name, value) in [
        ("givenName", "Gina"),
        ("surname", "Again"),
        ("displayName", "Gina Again"),
        ("email", email.as_str()),
    ] {
        assert_eq!(page.input_value(name).as_deref(), Some(value), "{name}");
    }
    // Both password fields come back empty, each with a note saying so (no error of theirs).
    for name in ["newPassword", "reenterPassword"] {
        assert_eq!(page.input_value(name).unwrap_or_default(), "", "{name}");
        assert!(
            page.body.contains(&format!(
                r#"<div class="retype" id="{name}_retype">Passwords are never kept: please type it again.</div>"#
            )),
            "{name}: {}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!(r#"aria-describedby="{name}_retype"#)),
            "{name}: {}",
            page.body
        );
    }
    assert!(!page.body.contains("This information is required."));
    // Links to sign in and to reset: the sign-in page, which has "Forgot your password?".
    let sign_in = page
        .href_of("userExistsSignIn")
        .unwrap_or_else(|| panic!("no sign-in link: {}", page.body));
    assert!(page.href_of("userExistsReset").is_some(), "{}", page.body);
    let signin_page = browser.get(&sign_in).await.page();
    assert!(signin_page.has_input("signInName"));
    assert!(signin_page.href_of("forgotPassword").is_some());
}

/// One page with a field of every kind, and a check after the submit that fails.
const EVERY_INPUT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<TrustFrameworkPolicy xmlns="http://schemas.microsoft.com/online/cpim/schemas/2013/06"
    PolicySchemaVersion="0.3.0.0" TenantId="contoso.onmicrosoft.com" PolicyId="B2C_1A_every_input"
    PublicPolicyUri="http://contoso.onmicrosoft.com/B2C_1A_every_input">
  <BuildingBlocks>
    <ClaimsSchema>
      <ClaimType Id="objectId"><DisplayName>Object id</DisplayName><DataType>string</DataType></ClaimType>
      <ClaimType Id="givenName"><DisplayName>Given name</DisplayName><DataType>string</DataType>
        <UserInputType>TextBox</UserInputType></ClaimType>
      <ClaimType Id="email"><DisplayName>E-mail</DisplayName><DataType>string</DataType>
        <UserInputType>EmailBox</UserInputType></ClaimType>
      <ClaimType Id="emailAgain"><DisplayName>E-mail again</DisplayName><DataType>string</DataType>
        <UserInputType>TextBox</UserInputType></ClaimType>
      <ClaimType Id="color"><DisplayName>Favourite colour</DisplayName><DataType>string</DataType>
        <UserInputType>RadioSingleSelect</UserInputType>
        <Restriction><Enumeration Text="Red" Value="red" /><Enumeration Text="Blue" Value="blue" /></Restriction>
      </ClaimType>
      <ClaimType Id="country"><DisplayName>Country</DisplayName><DataType>string</DataType>
        <UserInputType>DropdownSingleSelect</UserInputType>
        <Restriction><Enumeration Text="France" Value="FR" /><Enumeration Text="Norway" Value="NO" /></Restriction>
      </ClaimType>
      <ClaimType Id="interests"><DisplayName>Interests</DisplayName><DataType>stringCollection</DataType>
        <UserInputType>CheckboxMultiSelect</UserInputType>
        <Restriction><Enumeration Text="Art" Value="art" /><Enumeration Text="Books" Value="books" /><Enumeration Text="Chess" Value="chess" /></Restriction>
      </ClaimType>
      <ClaimType Id="birthDate"><DisplayName>Date of birth</DisplayName><DataType>date</DataType>
        <UserInputType>DateTimeDropdown</UserInputType></ClaimType>
      <ClaimType Id="pin"><DisplayName>PIN</DisplayName><DataType>string</DataType>
        <UserInputType>Password</UserInputType>
        <Restriction><Pattern RegularExpression="^[0-9]{4}$" HelpText="Four digits." /></Restriction>
      </ClaimType>
    </ClaimsSchema>
    <ClaimsTransformations>
      <ClaimsTransformation Id="AssertSameEmail" TransformationMethod="AssertStringClaimsAreEqual">
        <InputClaims>
          <InputClaim ClaimTypeReferenceId="email" TransformationClaimType="inputClaim1" />
          <InputClaim ClaimTypeReferenceId="emailAgain" TransformationClaimType="inputClaim2" />
        </InputClaims>
        <InputParameters>
          <InputParameter Id="stringComparison" DataType="string" Value="ordinalIgnoreCase" />
        </InputParameters>
      </ClaimsTransformation>
    </ClaimsTransformations>
  </BuildingBlocks>
  <ClaimsProviders>
    <ClaimsProvider>
      <DisplayName>Every input</DisplayName>
      <TechnicalProfiles>
        <TechnicalProfile Id="Everything">
          <DisplayName>Tell us about you</DisplayName>
          <Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.SelfAssertedAttributeProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" />
          <Metadata>
            <Item Key="UserMessageIfClaimsTransformationStringsAreNotEqual">The two addresses differ.</Item>
          </Metadata>
          <OutputClaims>
            <OutputClaim ClaimTypeReferenceId="givenName" Required="true" />
            <OutputClaim ClaimTypeReferenceId="email" Required="true" />
            <OutputClaim ClaimTypeReferenceId="emailAgain" Required="true" />
            <OutputClaim ClaimTypeReferenceId="color" Required="true" />
            <OutputClaim ClaimTypeReferenceId="country" Required="true" />
            <OutputClaim ClaimTypeReferenceId="interests" />
            <OutputClaim ClaimTypeReferenceId="birthDate" Required="true" />
            <OutputClaim ClaimTypeReferenceId="pin" Required="true" />
            <OutputClaim ClaimTypeReferenceId="objectId" DefaultValue="00000000-0000-4000-8000-000000000002" />
          </OutputClaims>
          <ValidationTechnicalProfiles>
            <ValidationTechnicalProfile ReferenceId="Check" />
          </ValidationTechnicalProfiles>
        </TechnicalProfile>
        <TechnicalProfile Id="Check">
          <Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.ClaimsTransformationProtocolProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" />
          <OutputClaimsTransformations>
            <OutputClaimsTransformation ReferenceId="AssertSameEmail" />
          </OutputClaimsTransformations>
        </TechnicalProfile>
        <TechnicalProfile Id="JwtIssuer">
          <Protocol Name="OpenIdConnect" />
          <OutputTokenFormat>JWT</OutputTokenFormat>
        </TechnicalProfile>
      </TechnicalProfiles>
    </ClaimsProvider>
  </ClaimsProviders>
  <UserJourneys>
    <UserJourney Id="Everything">
      <OrchestrationSteps>
        <OrchestrationStep Order="1" Type="ClaimsExchange">
          <ClaimsExchanges><ClaimsExchange Id="EverythingExchange" TechnicalProfileReferenceId="Everything" /></ClaimsExchanges>
        </OrchestrationStep>
        <OrchestrationStep Order="2" Type="SendClaims" CpimIssuerTechnicalProfileReferenceId="JwtIssuer" />
      </OrchestrationSteps>
    </UserJourney>
  </UserJourneys>
  <RelyingParty>
    <DefaultUserJourney ReferenceId="Everything" />
    <TechnicalProfile Id="PolicyProfile">
      <DisplayName>PolicyProfile</DisplayName>
      <Protocol Name="OpenIdConnect" />
      <OutputClaims>
        <OutputClaim ClaimTypeReferenceId="objectId" PartnerClaimType="sub" />
        <OutputClaim ClaimTypeReferenceId="givenName" />
      </OutputClaims>
      <SubjectNamingInfo ClaimType="sub" />
    </TechnicalProfile>
  </RelyingParty>
</TrustFrameworkPolicy>
"#;

/// Every value of the page as the form posts it, plus the page's `csrf`.
fn every_input_form(page: &Html, email_again: &str, birth: &str) -> Vec<(String, String)> {
    [
        (
            "csrf",
            page.input_value("csrf").unwrap_or_default().as_str(),
        ),
        ("givenName", "Ada <Lovelace>"),
        ("email", "ada@example.com"),
        ("emailAgain", email_again),
        ("color", "blue"),
        ("country", "NO"),
        ("interests", "art"),
        ("interests", "chess"),
        ("birthDate", birth),
        ("pin", "1234"),
        ("action", "continue"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn assert_every_value_kept(page: &Html, email_again: &str, birth: &str) {
    for (name, value) in [
        ("givenName", "Ada <Lovelace>"),
        ("email", "ada@example.com"),
        ("emailAgain", email_again),
        ("birthDate", birth),
    ] {
        assert_eq!(
            page.input_value(name).as_deref(),
            Some(value),
            "{name}: {}",
            page.body
        );
    }
    for needle in [
        r#"id="color_blue" name="color" value="blue" checked"#,
        r#"<option value="NO" selected>Norway</option>"#,
        r#"id="interests_art" name="interests" value="art" checked"#,
        r#"id="interests_chess" name="interests" value="chess" checked"#,
    ] {
        assert!(page.body.contains(needle), "{needle}: {}", page.body);
    }
    assert!(!page.body.contains(r#"value="red" checked"#));
    assert!(!page.body.contains(r#"value="books" checked"#));
    // The PIN is a secret: empty, with its note.
    assert_eq!(page.input_value("pin").unwrap_or_default(), "");
    assert!(page.body.contains(r#"id="pin_retype""#), "{}", page.body);
}

#[tokio::test]
async fn every_kind_of_input_keeps_its_value_after_a_server_side_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("EveryInput.xml"), EVERY_INPUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app(&format!(
        "[custom_policies]\ndir = {:?}\n",
        dir.path().display().to_string()
    ))
    .await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1A_every_input", WEB_CLIENT, &[]);
    let page = browser.get(&start).await.page();
    // A secret's pattern help is its rule, shown before the first submit.
    assert!(
        page.body
            .contains(r#"<div class="help" id="pin_help">Four digits.</div>"#),
        "{}",
        page.body
    );
    let action = page.form_action().unwrap_or_default();

    // A field refused by the server (a date that does not exist).
    let refused = browser
        .post_form(
            &action,
            &every_input_form(&page, "ada@example.com", "1990-02-31"),
        )
        .await
        .page();
    assert!(
        refused
            .body
            .contains("must be a date written as YYYY-MM-DD"),
        "{}",
        refused.body
    );
    assert_every_value_kept(&refused, "ada@example.com", "1990-02-31");

    // The page's check refuses the submit (a validation profile's error).
    let refused = browser
        .post_form(
            &action,
            &every_input_form(&refused, "other@example.com", "1990-05-17"),
        )
        .await
        .page();
    assert_eq!(
        refused.alert().as_deref(),
        Some("The two addresses differ."),
        "{}",
        refused.body
    );
    assert_every_value_kept(&refused, "other@example.com", "1990-05-17");

    let done = browser
        .post_form(
            &action,
            &every_input_form(&refused, "ada@example.com", "1990-05-17"),
        )
        .await
        .callback();
    assert!(done.get("code").is_some(), "{done:?}");
}

#[tokio::test]
async fn every_page_has_a_lang_one_h1_and_terminal_pages_link_home() {
    let app = spawn_app("").await;
    let browser = Browser::new(&app);
    let start = authorize_url(&app, "B2C_1_susi", WEB_CLIENT, &[("ui_locales", "fr")]);
    let page = browser.get(&start).await.page();
    assert!(page.body.contains(r#"<html lang="fr">"#), "{}", page.body);
    assert_lang_and_one_h1(&page.body, "sign-in");
    let form = browser
        .get(&page.href_of("createAccount").unwrap_or_default())
        .await
        .page();
    assert_lang_and_one_h1(&form.body, "sign-up");
    let mailbox = browser.get("/dev/mailbox").await.page();
    assert_lang_and_one_h1(&mailbox.body, "mailbox");
    // Long addresses and codes wrap on a phone (the pages' stylesheet is a file: the CSP
    // allows no inline style).
    assert!(mailbox.body.contains(r#"href="/_static/trustframe.css""#));
    let css = browser.get("/_static/trustframe.css").await.page();
    assert!(css.body.contains("#mailbox td { overflow-wrap: anywhere"));
    // 16 px inputs on phones.
    assert!(css.body.contains("@media (max-width: 600px)"));

    // Terminal pages: an unknown address, an expired journey, an error, a sign-out.
    let client = &browser.client;
    let terminal = [
        (
            "/no/such/page".to_owned(),
            404,
            "There is no page at this address.",
        ),
        (
            "/contoso/B2C_1_susi/journey/not-a-journey".to_owned(),
            404,
            "This page has expired",
        ),
        (
            "/contoso/B2C_1_nope/oauth2/v2.0/authorize?client_id=x".to_owned(),
            404,
            "does not exist",
        ),
        (
            "/contoso/B2C_1_susi/oauth2/v2.0/logout".to_owned(),
            200,
            "You have signed out.",
        ),
    ];
    for (url, status, text) in terminal {
        let (got, body) = raw(client, &app.base, url.clone()).await;
        assert_eq!(got, status, "{url}: {body}");
        assert!(body.contains(text), "{url}: {body}");
        assert_lang_and_one_h1(&body, &url);
        assert!(body.contains(r#"<a id="home" href="/">"#), "{url}: {body}");
    }

    // The hand-off page that posts the answer to the app.
    let email = unique_email("handoff");
    sign_up(&browser, &start, &email, "hana").await;
    let form_post = authorize_url(
        &app,
        "B2C_1_susi",
        WEB_CLIENT,
        &[("response_mode", "form_post"), ("response_type", "code")],
    );
    let (status, body) = raw(client, &app.base, form_post).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("data-autosubmit"), "{body}");
    let hand_off = Html {
        status: reqwest::StatusCode::OK,
        url: String::new(),
        body: body.clone(),
    };
    assert_eq!(hand_off.form_action().as_deref(), Some(REDIRECT), "{body}");
    assert!(body.contains(r#"<html lang="en">"#), "{body}");
    assert_lang_and_one_h1(&body, "form_post");
}
