mod outbound;
mod streams;
