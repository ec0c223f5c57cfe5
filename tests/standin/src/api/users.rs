//! `/api/v4/users`: signup (`POST /users`), `login`, `logout`, `me`, and deactivation
//! (`DELETE /users/{user_id}`), after `api4/user.go`, `app/user.go` and `app/users/users.go`.

use super::{ApiError, Caller, json_object, optional_session, reply, require_session};
use crate::clock;
use crate::http::Response;
use crate::router::{Call, Reply, Route};
use crate::server::App;
use crate::settings::PasswordRules;
use crate::store::{FIRST_USER_ROLES, USER_ROLES, User, is_valid_id};

/// `model.PasswordMaximumLength`.
const PASSWORD_MAXIMUM_LENGTH: usize = 72;
/// `model.UserNameMaxLength`.
const USERNAME_MAX_LENGTH: usize = 64;
/// `model.UserEmailMaxLength`.
const EMAIL_MAX_LENGTH: usize = 128;
/// Usernames the server refuses (`restrictedUsernames`).
const RESTRICTED_USERNAMES: [&str; 4] = ["all", "channel", "matterbot", "system"];

pub fn routes() -> Vec<Route> {
    vec![
        Route::new("POST", "/api/v4/users", create_user),
        Route::new("POST", "/api/v4/users/login", login),
        Route::new("POST", "/api/v4/users/logout", logout),
        Route::new("GET", "/api/v4/users/me", me),
        Route::new("DELETE", "/api/v4/users/{user_id}", delete_user),
    ]
}

/// `model.IsValidUsername`: 1 to 64 of `a-z 0-9 . - _`, not a restricted name.
pub fn is_valid_username(name: &str) -> bool {
    (1..=USERNAME_MAX_LENGTH).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_".contains(&b))
        && !RESTRICTED_USERNAMES.contains(&name)
}

/// A plain `local@domain` address, as `model.IsValidEmail` accepts (no display name, no
/// angle brackets, no spaces).
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && email
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\\\"".contains(c))
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

/// `IsPasswordValidWithSettings`: the id grows a suffix per broken rule
/// (`model.user.is_valid.pwd_min_length.app_error`, `…pwd_lowercase_number.app_error`, …).
pub fn password_error(password: &str, rules: &PasswordRules) -> Option<ApiError> {
    let mut id = String::from("model.user.is_valid.pwd");
    let mut broken = false;
    if password.len() < rules.minimum_length {
        broken = true;
        id.push_str("_min_length");
    }
    if password.len() > PASSWORD_MAXIMUM_LENGTH {
        broken = true;
        id.push_str("_max_length");
    }
    if !broken {
        let missing = |wanted: bool, test: fn(char) -> bool| wanted && !password.chars().any(test);
        for (suffix, is_missing) in [
            (
                "_lowercase",
                missing(rules.lowercase, |c| c.is_ascii_lowercase()),
            ),
            (
                "_uppercase",
                missing(rules.uppercase, |c| c.is_ascii_uppercase()),
            ),
            ("_number", missing(rules.number, |c| c.is_ascii_digit())),
            (
                "_symbol",
                missing(rules.symbol, |c| c.is_ascii_punctuation() || c == ' '),
            ),
        ] {
            if is_missing {
                broken = true;
                id.push_str(suffix);
            }
        }
    }
    if !broken {
        return None;
    }
    id.push_str(".app_error");
    Some(ApiError::new(
        400,
        id,
        format!(
            "Your password must contain at least {} characters{}.",
            rules.minimum_length,
            if rules.lowercase || rules.uppercase || rules.number || rules.symbol {
                " and meet the configured complexity rules"
            } else {
                ""
            }
        ),
    ))
}

/// `POST /api/v4/users`: 201 User. Anonymous signup needs sign-up enabled (else 501) and either
/// no account yet (deactivated ones count) or `TeamSettings.EnableOpenServer` (else 403); a
/// system admin's session skips both. The first account becomes `system_admin system_user`.
fn create_user(app: &App, call: &Call) -> Reply {
    reply(call, create_user_inner(app, call))
}

fn create_user_inner(app: &App, call: &Call) -> Result<Response, ApiError> {
    let caller = optional_session(app, call);
    let body = json_object(call.req, "user")?;
    let text = |key: &str| super::string_field(&body, key, "user");
    let (username, email, password) = (text("username")?, text("email")?, text("password")?);
    let settings = &app.settings;
    let mut store = app.store();
    if !caller.as_ref().is_some_and(|c| c.is_admin) {
        if !settings.enable_sign_up_with_email || !settings.enable_user_creation {
            return Err(ApiError::new(
                501,
                "api.user.create_user.signup_email_disabled.app_error",
                "User sign-up with email is disabled.",
            ));
        }
        if !store.users.is_empty() && !settings.enable_open_server {
            return Err(ApiError::new(
                403,
                "api.user.create_user.no_open_server",
                "This server does not allow open signups.  Please speak with your Administrator to receive an invitation.",
            )
            .detail(format!("email={email}")));
        }
    }
    if let Some(e) = password_error(&password, &settings.password) {
        return Err(e);
    }
    let username = username.to_lowercase();
    let email = email.to_lowercase();
    if !is_valid_username(&username) {
        return Err(ApiError::new(
            400,
            "model.user.is_valid.username.app_error",
            "Username must begin with a letter, and contain between 3 to 22 lowercase characters made up of numbers, letters, and the symbols \".\", \"-\", and \"_\".",
        ));
    }
    if email.len() > EMAIL_MAX_LENGTH || !is_valid_email(&email) {
        return Err(ApiError::new(
            400,
            "model.user.is_valid.email.app_error",
            "Invalid email.",
        ));
    }
    if store.users.iter().any(|u| u.email == email) {
        return Err(ApiError::new(
            400,
            "app.user.save.email_exists.app_error",
            "An account with that email already exists.",
        ));
    }
    if store.users.iter().any(|u| u.username == username) {
        return Err(ApiError::new(
            400,
            "app.user.save.username_exists.app_error",
            "An account with that username already exists.",
        ));
    }
    let roles = if store.users.is_empty() {
        FIRST_USER_ROLES
    } else {
        USER_ROLES
    };
    let user = User::new(&username, &email, &password, roles, clock::now_millis());
    let json = user.json();
    let event = store.insert_user(user);
    drop(store);
    app.publish(vec![event]);
    Ok(Response::json(201, &json))
}

/// `Set-Cookie` values for a session (Go's `http.Cookie` rendering).
fn session_cookies(
    token: &str,
    user_id: &str,
    csrf: &str,
    max_age: i64,
    secure: bool,
) -> Vec<String> {
    let expires = clock::format_http_date(clock::now_millis() / 1000 + max_age);
    let secure = if secure { "; Secure" } else { "" };
    vec![
        format!(
            "MMAUTHTOKEN={token}; Path=/; Expires={expires}; Max-Age={max_age}; HttpOnly{secure}"
        ),
        format!("MMUSERID={user_id}; Path=/; Expires={expires}; Max-Age={max_age}{secure}"),
        format!("MMCSRF={csrf}; Path=/; Expires={expires}; Max-Age={max_age}{secure}"),
    ]
}

/// `POST /api/v4/users/login` `{"login_id","password"}`: 200 User with the session token in the
/// `Token` header and the `MMAUTHTOKEN`, `MMUSERID`, `MMCSRF` cookies. Unknown users and wrong
/// passwords are both 401 `api.user.login.invalid_credentials_email_username`.
fn login(app: &App, call: &Call) -> Reply {
    reply(call, login_inner(app, call))
}

fn login_inner(app: &App, call: &Call) -> Result<Response, ApiError> {
    let body = json_object(call.req, "login")?;
    let login_id = super::string_field(&body, "login_id", "login_id")?;
    let password = super::string_field(&body, "password", "password")?;
    let invalid = || {
        ApiError::new(
            401,
            "api.user.login.invalid_credentials_email_username",
            "Enter a valid email or username and/or password.",
        )
    };
    if password.is_empty() {
        return Err(ApiError::new(
            400,
            "api.user.login.blank_pwd.app_error",
            "Password field must not be blank",
        ));
    }
    let settings = &app.settings;
    let now = clock::now_millis();
    let mut store = app.store();
    let user = store
        .user_for_login(&login_id)
        .cloned()
        .ok_or_else(invalid)?;
    if user.delete_at > 0 {
        return Err(ApiError::new(
            401,
            "api.user.login.inactive.app_error",
            "Login failed because your account has been deactivated.  Please contact an administrator.",
        ));
    }
    if user.failed_attempts >= settings.maximum_login_attempts {
        return Err(ApiError::new(
            401,
            "api.user.check_user_login_attempts.too_many.app_error",
            "Your account is locked because of too many failed password attempts. Please reset your password.",
        ));
    }
    let stored = store.user_mut(&user.id).ok_or_else(invalid)?;
    if !stored.check_password(&password) {
        stored.failed_attempts += 1;
        return Err(invalid());
    }
    stored.failed_attempts = 0;
    let json = stored.json();
    let session = store.create_session(&user.id, settings.session_length_web_hours, now);
    drop(store);
    let secure = call.req.header("X-Forwarded-Proto") == Some("https");
    let mut resp = Response::json(200, &json).with_header("Token", session.token.as_str());
    for cookie in session_cookies(
        &session.token,
        &session.user_id,
        &session.csrf,
        settings.session_length_web_hours * 3600,
        secure,
    ) {
        resp = resp.with_header("Set-Cookie", cookie);
    }
    Ok(resp)
}

/// `POST /api/v4/users/logout`: revokes the caller's session (if any) and clears the cookies.
fn logout(app: &App, call: &Call) -> Reply {
    if let Some(caller) = optional_session(app, call) {
        app.store().sessions.retain(|s| s.token != caller.token);
    }
    let mut resp = super::status_ok();
    for name in ["MMAUTHTOKEN", "MMUSERID", "MMCSRF"] {
        resp = resp.with_header(
            "Set-Cookie",
            format!("{name}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"),
        );
    }
    resp.into()
}

/// `GET /api/v4/users/me`: 200 User.
fn me(app: &App, call: &Call) -> Reply {
    reply(
        call,
        require_session(app, call).and_then(|caller| {
            app.store()
                .user(&caller.user_id)
                .map(|u| Response::json(200, &u.json()))
                .ok_or_else(|| ApiError::session_expired(""))
        }),
    )
}

/// The `{user_id}` of a path, `me` meaning the caller.
pub fn user_id_param(call: &Call, caller: &Caller) -> Result<String, ApiError> {
    match call.param("user_id") {
        Some("me") => Ok(caller.user_id.clone()),
        Some(id) if is_valid_id(id) => Ok(id.to_string()),
        _ => Err(ApiError::invalid_url_param("user_id")),
    }
}

/// `DELETE /api/v4/users/{user_id}`: deactivates the account (sets `delete_at`, revokes its
/// sessions); 200 `{"status":"OK"}`. Others' accounts need a system admin; deactivating oneself
/// needs `TeamSettings.EnableUserDeactivation` unless one is an admin (else 401).
/// `?permanent=true` deletes it instead, if `ServiceSettings.EnableAPIUserDeletion` (else 401).
fn delete_user(app: &App, call: &Call) -> Reply {
    reply(call, delete_user_inner(app, call))
}

fn delete_user_inner(app: &App, call: &Call) -> Result<Response, ApiError> {
    let caller = require_session(app, call)?;
    let user_id = user_id_param(call, &caller)?;
    let permanent = super::parse_bool(call.req.query("permanent"));
    let settings = &app.settings;
    if user_id != caller.user_id && !caller.is_admin {
        return Err(ApiError::permission(&caller, "edit_other_users"));
    }
    if user_id == caller.user_id && !settings.enable_user_deactivation && !caller.is_admin {
        return Err(ApiError::new(
            401,
            "api.user.update_active.not_enable.app_error",
            "You cannot deactivate yourself because this feature is not enabled. Please contact your System Administrator.",
        )
        .detail(format!("userId={user_id}")));
    }
    let now = clock::now_millis();
    let mut store = app.store();
    let Some(user) = store.user(&user_id).cloned() else {
        return Err(ApiError::new(
            404,
            "app.user.missing_account.const",
            "Unable to find the user.",
        ));
    };
    if user.is_system_admin() && !caller.is_admin {
        return Err(ApiError::permission(&caller, "manage_system"));
    }
    if permanent {
        if !settings.enable_api_user_deletion {
            return Err(ApiError::new(
                401,
                "api.user.delete_user.not_enabled.app_error",
                "Permanent delete feature is not enabled. Please contact your System Administrator.",
            )
            .detail(format!("userId={user_id}")));
        }
        store.remove_user(&user_id);
    } else {
        if let Some(u) = store.user_mut(&user_id) {
            u.delete_at = now;
            u.update_at = now;
        }
        store.revoke_sessions_of(&user_id);
    }
    Ok(super::status_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        for good in ["a", "alice", "mm-verify.1_x", "1abc"] {
            assert!(is_valid_username(good), "{good}");
        }
        for bad in [
            "",
            "Alice",
            "al ice",
            "all",
            "system",
            "a@b",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_username(bad), "{bad}");
        }
        for good in [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "x@localhost",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "@example.com",
            "a@",
            "a b@c.d",
            "<a@b.c>",
            "a@b..c",
            "a@b_c",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn password_rules() {
        let mut rules = crate::settings::Settings::default().password;
        assert_eq!(password_error("12345678", &rules), None);
        assert_eq!(
            password_error("1234567", &rules).unwrap().id,
            "model.user.is_valid.pwd_min_length.app_error"
        );
        assert_eq!(
            password_error(&"x".repeat(73), &rules).unwrap().id,
            "model.user.is_valid.pwd_max_length.app_error"
        );
        rules.number = true;
        rules.uppercase = true;
        assert_eq!(
            password_error("abcdefgh", &rules).unwrap().id,
            "model.user.is_valid.pwd_uppercase_number.app_error"
        );
        assert_eq!(password_error("Abcdefg1", &rules), None);
    }
}
