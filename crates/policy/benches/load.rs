//! Load + link time of a custom-policy set: the starter-pack-shaped fixtures (6 files,
//! 3 relying parties) and a generated set of about 1 MB.
//!
//! `CARGO_TARGET_DIR=/work/target-a cargo bench -p trustframe-policy`

use std::collections::BTreeMap;
use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use trustframe_policy::xml::{LoadOptions, PolicyFile, load};

const NS: &str = "http://schemas.microsoft.com/online/cpim/schemas/2013/06";

macro_rules! fixture {
    ($name:literal) => {
        PolicyFile {
            name: $name.to_owned(),
            bytes: include_bytes!(concat!("../tests/fixtures/starter/", $name)).to_vec(),
        }
    };
}

fn starter() -> Vec<PolicyFile> {
    vec![
        fixture!("TrustFrameworkBase.xml"),
        fixture!("TrustFrameworkLocalization.xml"),
        fixture!("TrustFrameworkExtensions.xml"),
        fixture!("SignUpOrSignin.xml"),
        fixture!("ProfileEdit.xml"),
        fixture!("PasswordReset.xml"),
    ]
}

/// A base with `n` claims, `n` REST profiles and `n / 10` journeys, an extensions file that
/// overrides every tenth profile, and ten relying parties.
fn generated(n: usize) -> Vec<PolicyFile> {
    let header = |id: &str, base: Option<&str>| {
        let mut s = format!(
            "<TrustFrameworkPolicy xmlns=\"{NS}\" TenantId=\"contoso.onmicrosoft.com\" PolicyId=\"{id}\">\n"
        );
        if let Some(b) = base {
            let _ = writeln!(
                s,
                "<BasePolicy><TenantId>contoso.onmicrosoft.com</TenantId><PolicyId>{b}</PolicyId></BasePolicy>"
            );
        }
        s
    };
    let mut base = header("B2C_1A_Base", None);
    base.push_str("<BuildingBlocks><ClaimsSchema>\n<ClaimType Id=\"objectId\"><DataType>string</DataType></ClaimType>\n");
    for i in 0..n {
        let _ = writeln!(
            base,
            "<ClaimType Id=\"claim{i}\"><DisplayName>Claim {i}</DisplayName><DataType>string</DataType><UserInputType>TextBox</UserInputType><DefaultPartnerClaimTypes><Protocol Name=\"OpenIdConnect\" PartnerClaimType=\"c{i}\" /></DefaultPartnerClaimTypes></ClaimType>"
        );
    }
    base.push_str("</ClaimsSchema></BuildingBlocks>\n<ClaimsProviders><ClaimsProvider><DisplayName>REST</DisplayName><TechnicalProfiles>\n");
    base.push_str("<TechnicalProfile Id=\"JwtIssuer\"><Protocol Name=\"OpenIdConnect\" /><OutputTokenFormat>JWT</OutputTokenFormat></TechnicalProfile>\n");
    for i in 0..n {
        let _ = writeln!(
            base,
            "<TechnicalProfile Id=\"REST-{i}\"><DisplayName>REST {i}</DisplayName><Protocol Name=\"Proprietary\" Handler=\"Web.TPEngine.Providers.RestfulProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null\" /><Metadata><Item Key=\"ServiceUrl\">https://api.contoso.test/{i}</Item><Item Key=\"SendClaimsIn\">Body</Item><Item Key=\"AuthenticationType\">None</Item></Metadata><InputClaims><InputClaim ClaimTypeReferenceId=\"claim{i}\" /></InputClaims><OutputClaims><OutputClaim ClaimTypeReferenceId=\"claim{}\" /></OutputClaims></TechnicalProfile>",
            (i + 1) % n
        );
    }
    base.push_str("</TechnicalProfiles></ClaimsProvider></ClaimsProviders>\n<UserJourneys>\n");
    for j in 0..n / 10 {
        let _ = write!(base, "<UserJourney Id=\"J{j}\"><OrchestrationSteps>");
        for k in 0..10 {
            let _ = write!(
                base,
                "<OrchestrationStep Order=\"{}\" Type=\"ClaimsExchange\"><ClaimsExchanges><ClaimsExchange Id=\"X{k}\" TechnicalProfileReferenceId=\"REST-{}\" /></ClaimsExchanges></OrchestrationStep>",
                k + 1,
                j * 10 + k
            );
        }
        base.push_str("<OrchestrationStep Order=\"11\" Type=\"SendClaims\" CpimIssuerTechnicalProfileReferenceId=\"JwtIssuer\" /></OrchestrationSteps></UserJourney>\n");
    }
    base.push_str("</UserJourneys></TrustFrameworkPolicy>\n");

    let mut ext = header("B2C_1A_Extensions", Some("B2C_1A_Base"));
    ext.push_str("<ClaimsProviders><ClaimsProvider><TechnicalProfiles>\n");
    for i in (0..n).step_by(10) {
        let _ = writeln!(
            ext,
            "<TechnicalProfile Id=\"REST-{i}\"><Metadata><Item Key=\"ServiceUrl\">https://override.contoso.test/{i}</Item></Metadata></TechnicalProfile>"
        );
    }
    ext.push_str(
        "</TechnicalProfiles></ClaimsProvider></ClaimsProviders></TrustFrameworkPolicy>\n",
    );

    let mut files = vec![
        PolicyFile {
            name: "Base.xml".into(),
            bytes: base.into_bytes(),
        },
        PolicyFile {
            name: "Extensions.xml".into(),
            bytes: ext.into_bytes(),
        },
    ];
    for r in 0..10 {
        let mut rp = header(&format!("B2C_1A_rp{r}"), Some("B2C_1A_Extensions"));
        let _ = write!(
            rp,
            "<RelyingParty><DefaultUserJourney ReferenceId=\"J{r}\" /><TechnicalProfile Id=\"PolicyProfile\"><Protocol Name=\"OpenIdConnect\" /><OutputClaims><OutputClaim ClaimTypeReferenceId=\"objectId\" PartnerClaimType=\"sub\" /><OutputClaim ClaimTypeReferenceId=\"claim{r}\" /></OutputClaims><SubjectNamingInfo ClaimType=\"sub\" /></TechnicalProfile></RelyingParty></TrustFrameworkPolicy>"
        );
        files.push(PolicyFile {
            name: format!("rp{r}.xml"),
            bytes: rp.into_bytes(),
        });
    }
    files
}

fn bench(c: &mut Criterion) {
    let settings = BTreeMap::new();
    let options = LoadOptions {
        tenant_domain: "contoso.onmicrosoft.com",
        settings: &settings,
        limits: Default::default(),
    };
    let starter = starter();
    let generated = generated(1000);
    let bytes: usize = generated.iter().map(|f| f.bytes.len()).sum();
    for (name, files) in [("starter", &starter), ("generated", &generated)] {
        match load(files, &options) {
            Ok(l) => eprintln!(
                "{name}: {} files, {} bytes, {} policies",
                files.len(),
                files.iter().map(|f| f.bytes.len()).sum::<usize>(),
                l.policies.len()
            ),
            Err(e) => panic!("{name}: {e:?}"),
        }
    }
    c.bench_function(
        "load+link starter-pack-shaped chain (3 relying parties)",
        |b| b.iter(|| load(black_box(&starter), &options)),
    );
    c.bench_function(
        &format!("load+link generated set ({bytes} bytes, 10 relying parties)"),
        |b| b.iter(|| load(black_box(&generated), &options)),
    );
    // Microsoft's starter pack is not ours to commit: `TRUSTFRAME_STARTER_PACK=<folder>`
    // (its `*.xml`, `yourtenant` replaced by `contoso`) adds it to the run.
    if let Ok(dir) = std::env::var("TRUSTFRAME_STARTER_PACK") {
        let mut files: Vec<PolicyFile> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .map(|p| PolicyFile {
                name: p.display().to_string(),
                bytes: std::fs::read(&p).unwrap_or_else(|e| panic!("{e}")),
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let size: usize = files.iter().map(|f| f.bytes.len()).sum();
        if let Err(e) = load(&files, &options) {
            panic!("starter pack: {e:?}");
        }
        c.bench_function(
            &format!(
                "load+link Microsoft's starter pack ({} files, {size} bytes)",
                files.len()
            ),
            |b| b.iter(|| load(black_box(&files), &options)),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
