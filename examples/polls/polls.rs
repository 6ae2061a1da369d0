//! The polls app itself: a few polls kept in memory, guarded the oauthost way.
//!
//! Plain poem handlers under `/polls/` and poem-openapi operations under `/api/`; every guarded
//! one names its scope explicitly (`scope = "polls:vote"`) or derives it (`scope_auto`, giving
//! `polls:<function>` because this module is named `polls`). The first line of each doc comment
//! is the scope's description on the consent screen after `syncscopes`.

use std::sync::{Arc, Mutex};

use poem::web::{Data, Form, Html, Json, Path};
use poem::{EndpointExt, Request, Route, handler};
use poem_openapi::{ApiResponse, Object, OpenApi, payload};
use scopegate::resource_server::ResourceServer;
use scopegate::web::methods::{get, post};
use scopegate::web::openapi::ApiCaller;
use scopegate::{Caller, oauth_api, oauth_required};
use serde::{Deserialize, Serialize};

/// One poll and its vote counts.
#[derive(Clone, Serialize, Object)]
pub struct Poll {
    id: u64,
    question: String,
    choices: Vec<Choice>,
}

/// One answer of a poll and its votes.
#[derive(Clone, Serialize, Object)]
pub struct Choice {
    text: String,
    votes: u64,
}

/// Totals over every poll.
#[derive(Clone, Serialize, Object)]
pub struct Stats {
    polls: u64,
    votes: u64,
}

/// The polls, shared by the handlers.
#[derive(Clone)]
pub struct Polls(Arc<Mutex<Vec<Poll>>>);

impl Polls {
    /// Two demo polls.
    pub fn demo() -> Self {
        let poll = |id: u64, q: &str, c: &[&str]| Poll {
            id,
            question: q.into(),
            choices: c
                .iter()
                .map(|c| Choice {
                    text: (*c).to_owned(),
                    votes: 0,
                })
                .collect(),
        };
        Polls(Arc::new(Mutex::new(vec![
            poll(1, "What's up?", &["Not much", "The sky"]),
            poll(2, "Tabs or spaces?", &["Tabs", "Spaces"]),
        ])))
    }

    fn all(&self) -> Vec<Poll> {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn get(&self, id: u64) -> Option<Poll> {
        self.all().into_iter().find(|p| p.id == id)
    }

    /// Adds a vote; `None` when the poll or the choice does not exist.
    fn vote(&self, id: u64, choice: usize) -> Option<Poll> {
        let mut polls = self.0.lock().ok()?;
        let poll = polls.iter_mut().find(|p| p.id == id)?;
        poll.choices.get_mut(choice)?.votes += 1;
        Some(poll.clone())
    }

    fn stats(&self) -> Stats {
        let all = self.all();
        Stats {
            polls: all.len() as u64,
            votes: all.iter().flat_map(|p| &p.choices).map(|c| c.votes).sum(),
        }
    }
}

fn not_found() -> poem::Error {
    poem::Error::from_status(poem::http::StatusCode::NOT_FOUND)
}

/// The home page: the polls, and where to sign in (here, or at the issuer of a resource server,
/// `examples/polls_api`).
#[handler]
fn home(req: &Request, Data(polls): Data<&Polls>) -> Html<String> {
    let items: String = polls
        .all()
        .iter()
        .map(|p| format!("<li>{}: {}</li>", p.id, p.question))
        .collect();
    let links = match req.data::<ResourceServer>() {
        Some(server) => format!(
            "<a href=\"{}/login\">Sign in at the issuer</a> · <a href=\"/openapi.json\">OpenAPI</a> · \
             <a href=\"/.well-known/oauth-protected-resource\">Resource metadata</a>",
            server.config().issuer
        ),
        None => "<a href=\"/login\">Sign in</a> · <a href=\"/docs\">API explorer</a> · \
                 <a href=\"/.well-known/oauth-authorization-server\">OAuth metadata</a>"
            .to_owned(),
    };
    Html(format!(
        "<!doctype html><title>Polls</title><h1>Polls</h1><ul>{items}</ul><p>{links}</p>"
    ))
}

/// List the polls.
#[oauth_required(scope_auto)]
#[handler]
fn index(Data(polls): Data<&Polls>) -> Json<Vec<Poll>> {
    Json(polls.all())
}

/// Read a poll's question and choices.
#[oauth_required(scope_auto)]
#[handler]
fn detail(Path(id): Path<u64>, Data(polls): Data<&Polls>) -> poem::Result<Json<Poll>> {
    polls.get(id).map(Json).ok_or_else(not_found)
}

/// The form a vote is posted with (`access_token` may ride along, RFC 6750 §2.2).
#[derive(Deserialize)]
struct VoteForm {
    choice: usize,
}

/// Vote in polls.
#[oauth_required(scope = "polls:vote")]
#[handler]
fn vote(
    caller: Caller,
    Path(id): Path<u64>,
    Form(form): Form<VoteForm>,
    Data(polls): Data<&Polls>,
) -> poem::Result<Json<serde_json::Value>> {
    let poll = polls.vote(id, form.choice).ok_or_else(not_found)?;
    Ok(Json(
        serde_json::json!({ "poll": poll.id, "voter": caller.username(), "client": caller.client_id() }),
    ))
}

/// See the results of polls.
#[oauth_required(scope_auto)]
#[handler]
fn results(Path(id): Path<u64>, Data(polls): Data<&Polls>) -> poem::Result<Json<Poll>> {
    polls.get(id).map(Json).ok_or_else(not_found)
}

/// See voting statistics.
#[oauth_required(scope = "polls:stats")]
#[handler]
fn stats(Data(polls): Data<&Polls>) -> Json<Stats> {
    Json(polls.stats())
}

/// A vote sent to the JSON API.
#[derive(Deserialize, Object)]
pub struct VoteBody {
    /// Index of the chosen answer, from 0.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000")))]
    choice: u64,
}

/// An error body of the JSON API, in the shape of scopegate's own.
#[derive(Object)]
pub struct ApiError {
    /// `not_found`.
    error: String,
    /// What was not found.
    error_description: String,
}

/// A poll, or why there is none.
#[derive(ApiResponse)]
pub enum PollAnswer {
    /// The poll.
    #[oai(status = 200)]
    Ok(payload::Json<Poll>),
    /// No such poll, or no such choice in it.
    #[oai(status = 404)]
    NotFound(payload::Json<ApiError>),
}

impl From<Option<Poll>> for PollAnswer {
    fn from(poll: Option<Poll>) -> Self {
        match poll {
            Some(poll) => PollAnswer::Ok(payload::Json(poll)),
            None => PollAnswer::NotFound(payload::Json(ApiError {
                error: "not_found".into(),
                error_description: "no such poll or choice".into(),
            })),
        }
    }
}

/// The polls JSON API, documented in `/openapi.json`.
pub struct PollsApi {
    polls: Polls,
}

#[oauth_api]
#[OpenApi]
impl PollsApi {
    /// See the results of polls.
    #[oauth_required(scope_auto)]
    #[oai(path = "/polls/:id/results", method = "get")]
    async fn results(
        &self,
        caller: ApiCaller,
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
        id: poem_openapi::param::Path<u64>,
    ) -> PollAnswer {
        self.polls.get(id.0).into()
    }

    /// Vote in polls.
    #[oauth_required(scope = "polls:vote")]
    #[oai(path = "/polls/:id/vote", method = "post")]
    async fn vote(
        &self,
        caller: ApiCaller,
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
        id: poem_openapi::param::Path<u64>,
        body: payload::Json<VoteBody>,
    ) -> PollAnswer {
        usize::try_from(body.0.choice)
            .ok()
            .and_then(|choice| self.polls.vote(id.0, choice))
            .into()
    }

    /// See voting statistics.
    #[oauth_required(scope = "polls:stats")]
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self, caller: ApiCaller) -> poem::Result<payload::Json<Stats>> {
        Ok(payload::Json(self.polls.stats()))
    }
}

/// Adds the polls routes, the JSON API under `/api`, and its docs, to scopegate's (the demo) or
/// to a resource server's (`examples/polls_api`): the guards and `/openapi.json` validate and
/// document by whichever the app is mounted in.
pub fn routes(route: Route) -> Route {
    let polls = Polls::demo();
    let route = route
        .at("/", get(home).data(polls.clone()))
        .at("/polls/", get(index).data(polls.clone()))
        .at("/polls/:id/", get(detail).data(polls.clone()))
        .at("/polls/:id/vote", post(vote).data(polls.clone()))
        .at("/polls/:id/results", get(results).data(polls.clone()))
        .at("/polls/stats", get(stats).data(polls.clone()));
    scopegate::web::openapi::mount(route, "/api", PollsApi { polls }, "Polls")
}
