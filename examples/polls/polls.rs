//! The polls app itself: a few polls kept in memory.

use std::sync::{Arc, Mutex};

use poem::web::{Data, Html, Json, Path};
use poem::{EndpointExt, Route, get, handler};
use serde::Serialize;

/// One poll and its vote counts.
#[derive(Clone, Serialize)]
pub struct Poll {
    id: usize,
    question: String,
    choices: Vec<(String, u64)>,
}

/// The polls, shared by the handlers.
#[derive(Clone)]
pub struct Polls(Arc<Mutex<Vec<Poll>>>);

impl Polls {
    fn demo() -> Self {
        let poll = |id: usize, q: &str, c: &[&str]| Poll {
            id,
            question: q.into(),
            choices: c.iter().map(|c| ((*c).to_owned(), 0)).collect(),
        };
        Polls(Arc::new(Mutex::new(vec![
            poll(1, "What's up?", &["Not much", "The sky"]),
            poll(2, "Tabs or spaces?", &["Tabs", "Spaces"]),
        ])))
    }

    fn all(&self) -> Vec<Poll> {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

#[handler]
fn home(Data(polls): Data<&Polls>) -> Html<String> {
    let items: String = polls
        .all()
        .iter()
        .map(|p| format!("<li><a href=\"/polls/{}/\">{}</a></li>", p.id, p.question))
        .collect();
    Html(format!(
        "<!doctype html><title>Polls</title><h1>Polls</h1><ul>{items}</ul>\
         <p><a href=\"/login\">Sign in</a> · \
         <a href=\"/.well-known/oauth-authorization-server\">OAuth metadata</a></p>"
    ))
}

#[handler]
fn detail(Path(id): Path<usize>, Data(polls): Data<&Polls>) -> poem::Result<Json<Poll>> {
    polls
        .all()
        .into_iter()
        .find(|p| p.id == id)
        .map(Json)
        .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::NOT_FOUND))
}

/// Adds the polls routes to scopegate's.
pub fn routes(route: Route) -> Route {
    let polls = Polls::demo();
    route
        .at("/", get(home).data(polls.clone()))
        .at("/polls/:id/", get(detail).data(polls))
}
