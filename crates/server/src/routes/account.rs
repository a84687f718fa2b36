//! Authentication, the caller, the organization, users, API tokens and the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use billow_store::{Access, AccountScope, CostTypes, Credential, Member, Permission, Role, Via};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rfc3339;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller, ClientIp, SESSION_COOKIE};
use crate::state::AppState;

fn parse_role(text: &str) -> ApiResult<Role> {
    text.parse().map_err(ApiError::from)
}

fn parse_cost_types(list: Option<&[String]>) -> ApiResult<Option<CostTypes>> {
    list.map(|l| l.join(",").parse::<CostTypes>().map_err(ApiError::from))
        .transpose()
}

/// The caller as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct Me {
    organization_id: String,
    organization: String,
    /// Email, or `local` for the CLI.
    user: String,
    #[schema(example = "admin")]
    role: String,
    /// The cost types the caller sees.
    cost_types: Vec<String>,
    /// `null`: every account; otherwise the accounts the caller sees.
    accounts: Option<Vec<String>>,
    /// `token`, `session` or `local`.
    authenticated_by: String,
}

async fn me_of(state: &AppState, access: &Access) -> ApiResult<Me> {
    let org = state.store().organization(access).await?;
    Ok(Me {
        organization_id: org.id,
        organization: org.name,
        user: access.actor.clone(),
        role: access.role.to_string(),
        cost_types: access.cost_types.iter().map(|c| c.to_string()).collect(),
        accounts: match &access.accounts {
            AccountScope::All => None,
            AccountScope::Only(ids) => Some(ids.iter().cloned().collect()),
        },
        authenticated_by: match access.via {
            Via::Local => "local",
            Via::Token(_) => "token",
            Via::Session(_) => "session",
            Via::Scheduler => "scheduler",
        }
        .into(),
    })
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct LoginRequest {
    #[schema(example = "ana@example.com")]
    email: String,
    password: String,
    /// The organization to sign in to (needed when the user belongs to several).
    organization: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    /// The session's bearer token (also set as the `billow_session` cookie).
    token: String,
    expires_in_seconds: i64,
    me: Me,
}

/// Sign in with email and password; returns a session token valid for 12 hours.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let key = format!("{ip}|{}", request.email.trim().to_ascii_lowercase());
    state
        .logins()
        .check(&key)
        .map_err(ApiError::too_many_requests)?;
    let (access, token) = state
        .store()
        .login(
            &request.email,
            &request.password,
            request.organization.as_deref(),
        )
        .await?;
    let seconds = billow_store::SESSION_HOURS * 3600;
    let body = LoginResponse {
        token: token.clone(),
        expires_in_seconds: seconds,
        me: me_of(&state, &access).await?,
    };
    let mut response = Json(body).into_response();
    let cookie =
        format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={seconds}; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// End the caller's session (or revoke the token used).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Caller(access): Caller,
) -> ApiResult<Response> {
    if let Via::Session(id) | Via::Token(id) = &access.via {
        state.store().revoke(&access, id).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("billow_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
    );
    Ok(response)
}

/// Who the caller is, in which organization, with which role and cost types.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub(crate) async fn me(
    State(state): State<AppState>,
    Caller(access): Caller,
) -> ApiResult<Json<Me>> {
    Ok(Json(me_of(&state, &access).await?))
}

/// The caller's organization.
#[derive(Serialize, ToSchema)]
pub(crate) struct OrganizationView {
    id: String,
    name: String,
    created_at: String,
    /// The caller's role in it.
    your_role: String,
    /// Its connections (lake ids) the caller's costs come from.
    connections: Vec<String>,
}

async fn organization_view(
    state: &AppState,
    access: &billow_store::Access,
    org: billow_store::Organization,
) -> ApiResult<OrganizationView> {
    let connections = state.store().connection_ids(access).await?;
    Ok(OrganizationView {
        id: org.id,
        name: org.name,
        created_at: rfc3339(org.created_at),
        your_role: access.role.to_string(),
        connections,
    })
}

/// The caller's organization.
#[utoipa::path(get, path = "/api/v1/organization", tag = "organizations", security(("bearer" = [])),
    responses((status = 200, body = OrganizationView), (status = 401, body = ErrorBody)))]
pub(crate) async fn organization(
    State(state): State<AppState>,
    Caller(access): Caller,
) -> ApiResult<Json<OrganizationView>> {
    let org = state.store().organization(&access).await?;
    Ok(Json(organization_view(&state, &access, org).await?))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct OrganizationName {
    #[schema(example = "Globex (rebilled)", min_length = 1, max_length = 100)]
    name: String,
}

/// Rename the caller's organization (Owner).
#[utoipa::path(patch, path = "/api/v1/organization", tag = "organizations", security(("bearer" = [])),
    request_body = OrganizationName,
    responses((status = 200, body = OrganizationView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn rename_organization(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiJson(body): ApiJson<OrganizationName>,
) -> ApiResult<Json<OrganizationView>> {
    let org = state
        .store()
        .rename_organization(&access, &body.name)
        .await?;
    Ok(Json(organization_view(&state, &access, org).await?))
}

/// An organization the caller belongs to.
#[derive(Serialize, ToSchema)]
pub(crate) struct MembershipView {
    id: String,
    name: String,
    created_at: String,
    /// The caller's role in it.
    your_role: String,
    /// Whether the caller's token or session is for this one (sign in with `organization`
    /// to act in another).
    current: bool,
}

/// The organizations the caller belongs to.
#[utoipa::path(get, path = "/api/v1/organizations", tag = "organizations", security(("bearer" = [])),
    responses((status = 200, body = [MembershipView]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_organizations(
    State(state): State<AppState>,
    Caller(access): Caller,
) -> ApiResult<Json<Vec<MembershipView>>> {
    let orgs = state.store().organizations(&access).await?;
    Ok(Json(
        orgs.into_iter()
            .map(|(org, role)| MembershipView {
                current: org.id == access.org_id,
                id: org.id,
                name: org.name,
                created_at: rfc3339(org.created_at),
                your_role: role.to_string(),
            })
            .collect(),
    ))
}

/// Create an organization (an Owner of the default organization, the instance's operator);
/// the caller becomes its Owner.
#[utoipa::path(post, path = "/api/v1/organizations", tag = "organizations", security(("bearer" = [])),
    request_body = OrganizationName,
    responses((status = 201, body = MembershipView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn create_organization(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiJson(body): ApiJson<OrganizationName>,
) -> ApiResult<(StatusCode, Json<MembershipView>)> {
    let org = state
        .store()
        .create_organization_as(&access, &body.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(MembershipView {
            id: org.id,
            name: org.name,
            created_at: rfc3339(org.created_at),
            your_role: Role::Owner.to_string(),
            current: false,
        }),
    ))
}

/// A member of the organization.
#[derive(Serialize, ToSchema)]
pub(crate) struct MemberView {
    email: String,
    name: String,
    role: String,
    cost_types: Vec<String>,
    /// `null`: every account.
    accounts: Option<Vec<String>>,
    disabled: bool,
    has_password: bool,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            email: m.email,
            name: m.name,
            role: m.role.to_string(),
            cost_types: m.cost_types.iter().map(|c| c.to_string()).collect(),
            accounts: match m.accounts {
                AccountScope::All => None,
                AccountScope::Only(ids) => Some(ids.into_iter().collect()),
            },
            disabled: m.disabled,
            has_password: m.has_password,
        }
    }
}

/// The organization's members.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [MemberView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    Caller(access): Caller,
) -> ApiResult<Json<Vec<MemberView>>> {
    let members = state.store().members(&access).await?;
    Ok(Json(members.into_iter().map(MemberView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewMember {
    #[schema(example = "cy@example.com")]
    email: String,
    #[serde(default)]
    name: String,
    /// At least 12 characters; without it the user signs in with API tokens only.
    password: Option<String>,
    /// owner, admin, member, viewer or customer.
    #[schema(example = "viewer", pattern = "^(owner|admin|member|viewer|customer)$")]
    role: String,
    /// provider, list, billed, effective (default: the role's).
    cost_types: Option<Vec<String>>,
    /// For the customer role: the billing accounts or sub accounts it sees.
    #[serde(default)]
    accounts: Vec<String>,
}

/// Add a user to the organization.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewMember,
    responses((status = 201, body = MemberView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn add_user(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiJson(new): ApiJson<NewMember>,
) -> ApiResult<(StatusCode, Json<MemberView>)> {
    access.require(Permission::ManageUsers)?;
    let role = parse_role(&new.role)?;
    let cost_types = parse_cost_types(new.cost_types.as_deref())?;
    let member = state
        .store()
        .add_member(
            &access,
            &new.email,
            &new.name,
            new.password.as_deref(),
            role,
            cost_types,
            &new.accounts,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct Grant {
    #[schema(example = "member", pattern = "^(owner|admin|member|viewer|customer)$")]
    role: String,
    cost_types: Option<Vec<String>>,
    #[serde(default)]
    accounts: Vec<String>,
}

/// Change a member's role, cost types and accounts.
#[utoipa::path(patch, path = "/api/v1/users/{email}", tag = "users", security(("bearer" = [])), request_body = Grant,
    params(("email" = String, Path, description = "The member's email")),
    responses((status = 200, body = MemberView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn grant(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(email): Path<String>,
    ApiJson(grant): ApiJson<Grant>,
) -> ApiResult<Json<MemberView>> {
    access.require(Permission::ManageUsers)?;
    let role = parse_role(&grant.role)?;
    let cost_types = parse_cost_types(grant.cost_types.as_deref())?;
    let member = state
        .store()
        .grant(&access, &email, role, cost_types, &grant.accounts)
        .await?;
    Ok(Json(member.into()))
}

/// Remove a member (their tokens and sessions here end).
#[utoipa::path(delete, path = "/api/v1/users/{email}", tag = "users", security(("bearer" = [])),
    params(("email" = String, Path, description = "The member's email")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove_user(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(email): Path<String>,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageUsers)?;
    state.store().remove_member(&access, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An API token (never its secret).
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenView {
    id: String,
    user: String,
    name: String,
    role: String,
    created_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    last_used_at: Option<String>,
}

impl From<Credential> for TokenView {
    fn from(c: Credential) -> Self {
        TokenView {
            id: c.id,
            user: c.email,
            name: c.name,
            role: c.max_role.to_string(),
            created_at: rfc3339(c.created_at),
            expires_at: rfc3339(c.expires_at),
            revoked_at: c.revoked_at.map(rfc3339),
            last_used_at: c.last_used_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct TokensQuery {
    /// Every token of the organization (needs the right to manage users), not only yours.
    #[serde(default)]
    all: bool,
}

/// Your API tokens (or, with `all=true`, the organization's).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), params(TokensQuery),
    responses((status = 200, body = [TokenView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiQuery(q): ApiQuery<TokensQuery>,
) -> ApiResult<Json<Vec<TokenView>>> {
    let tokens = state.store().tokens(&access, q.all).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewToken {
    #[schema(example = "ci")]
    name: String,
    /// The strongest role it acts with (default and maximum: yours).
    #[schema(pattern = "^(owner|admin|member|viewer|customer)$")]
    role: Option<String>,
    /// Days until it expires (1 to 366, default 90).
    #[schema(minimum = 1, maximum = 366)]
    days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    token: TokenView,
    /// The bearer token: shown only in this response.
    secret: String,
}

/// Create an API token for yourself; its secret is in this response only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiJson(new): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let role = new.role.as_deref().map(parse_role).transpose()?;
    let (token, secret) = state
        .store()
        .create_token(&access, None, &new.name, role, new.days.unwrap_or(90))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: token.into(),
            secret,
        }),
    ))
}

/// Revoke a token (yours, or any of the organization's with the right to manage users).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.store().revoke(&access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An audited change.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditView {
    /// The entry's id: pass it as `before` for the next page.
    id: String,
    at: String,
    actor: String,
    action: String,
    target: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct AuditQuery {
    /// Entries (newest first), 1 to 1000.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only entries older than this one (the `id` of the last entry of the previous page).
    before: Option<String>,
}

/// Who changed what in the organization, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = [AuditView]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditView>>> {
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 1000));
    let entries = state
        .store()
        .audit_log(&access, limit, q.before.as_deref())
        .await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| AuditView {
                id: e.id,
                at: rfc3339(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: e.detail,
            })
            .collect(),
    ))
}
