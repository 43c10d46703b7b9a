"""The web page (Gradio Blocks) over :mod:`stylenet.demo.jobs`: the layout, and errors as one line on the page.

Gradio (the optional extra ``stylenet[demo]``) because it is what people who show models already use
(Hugging Face Spaces run it), and it brings what the page needs without a front end of our own: uploads with a
size limit, a webcam, a before/after slider, a queue, progress bars that follow tqdm, and a client
(gradio_client) for the same API.

Requests queue with a concurrency of one: two stylisations at once would fight over the same cores and both be
slower (and need twice the memory). Every job's refusal (a StylenetError) is shown as its one line; anything
else is logged with its traceback and shown as one line too, and the server goes on to the next request.
"""

from __future__ import annotations

import functools
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry calls from an offline machine

import gradio as gr  # noqa: E402  (after the environment it reads at import)
import torch  # noqa: E402

from stylenet.demo import jobs  # noqa: E402
from stylenet.demo.catalogue import PAINTING, Catalogue  # noqa: E402
from stylenet.errors import StylenetError, first_line  # noqa: E402

log = logging.getLogger(__name__)
MAX_QUEUE = 32  # waiting requests; the 33rd is told the queue is full
# System fonts: Gradio's default theme asks Google Fonts for its own, which an offline machine cannot reach.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
INTRO = ("# stylenet\nA photo in the style of a painting: pick a style, drop a photo, press **Stylise**. "
         f"Styles named *{PAINTING}* take any painting you upload (universal decoders); the others are trained networks.")


def shown(fn):
    """Run ``fn``; what goes wrong becomes one line on the page (``gr.Error``, shown until closed), never a stack trace."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except StylenetError as e:
            raise gr.Error(first_line(e, 300), print_exception=False, duration=None) from None
        except (MemoryError, torch.OutOfMemoryError):
            raise gr.Error("out of memory: pick a smaller output size or a smaller photo", print_exception=False, duration=None) from None
        except Exception as e:  # a bug: logged in full, one line on the page, the server goes on
            log.exception("request failed")
            raise gr.Error(f"unexpected error ({type(e).__name__}: {first_line(e, 200)}); the page still works, "
                           "please report it", print_exception=False, duration=None) from None

    return run


def build_page(catalogue: Catalogue) -> gr.Blocks:
    labels = catalogue.labels

    def photo_job(photo, webcam, style, painting, strength, keep, stroke, size):
        r = jobs.stylise_photo(catalogue, photo or webcam, style, painting, strength=strength, keep_colours=keep,
                               stroke_scale=stroke, size=size)
        took = f"{r.size[0]}x{r.size[1]} in {r.seconds:.2f} s"
        return (r.before, r.after), gr.DownloadButton(value=str(r.path), visible=True), took

    def sheet_job(photo, webcam, style):
        image, path = jobs.sheet(catalogue, photo or webcam, style)
        return image, gr.DownloadButton(value=str(path), visible=True)

    def video_job(video, style, painting, strength, keep, progress=gr.Progress(track_tqdm=True)):
        path, took = jobs.stylise_clip(catalogue, video, style, painting, strength=strength, keep_colours=keep)
        return str(path), took

    with gr.Blocks(title="stylenet", analytics_enabled=False) as page:
        gr.Markdown(INTRO)
        gr.Markdown(jobs.limits_text(), elem_id="limits")
        with gr.Row():
            with gr.Column(scale=1):
                style = gr.Radio(labels, value=labels[0] if labels else None, label="Style", elem_id="style")
                painting = gr.File(label=f"Your painting (for '{PAINTING}')", file_types=["image"], type="filepath",
                                   elem_id="painting")
                strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength (0 = the photo)")
                keep = gr.Checkbox(label="Keep the photo's colours")
                stroke = gr.Dropdown(list(jobs.STROKE_SCALES), value=jobs.STROKE_SCALES[0], elem_id="stroke", allow_custom_value=True,
                                     label="Stroke scale (trained networks; auto = each style at the size it paints best, "
                                           "1 = the photo's size, 2 = strokes twice as big)")
                size = gr.Dropdown(list(jobs.SIZES), value=jobs.SIZES[0], label="Output size (long side, px)")
            with gr.Column(scale=2):
                with gr.Tab("Photo"):
                    photo = gr.File(label="Photo: drop or upload", file_types=["image"], type="filepath", elem_id="photo")
                    with gr.Accordion("…or take one with the webcam", open=False):
                        webcam = gr.Image(sources=["webcam"], type="filepath", label="Webcam", elem_id="webcam")
                    with gr.Row():
                        go = gr.Button("Stylise", variant="primary", elem_id="stylise")
                        sheet_button = gr.Button("Contact sheet: every style of this network", elem_id="sheet-button")
                    result = gr.ImageSlider(label="Before / after", type="pil", format="jpeg", elem_id="result")
                    took = gr.Markdown(elem_id="took")
                    download = gr.DownloadButton("Download the result", visible=False, elem_id="download")
                    sheet_image = gr.Image(label="Contact sheet", type="pil", format="jpeg", elem_id="sheet")
                with gr.Tab("Video"):
                    video = gr.Video(sources=["upload"], include_audio=True, label="A short clip", elem_id="video")
                    go_video = gr.Button("Stylise the clip", variant="primary", elem_id="stylise-video")
                    video_out = gr.Video(label="Stylised, with its sound", elem_id="video-out")
                    video_took = gr.Markdown(elem_id="video-took")
        # Stroke scale exists for trained networks only: hidden while "your painting" is picked.
        style.change(lambda label: gr.Dropdown(visible=catalogue.choices[label].kind == "network" if label in catalogue.choices else True),
                     style, stroke, api_name=False)
        go.click(shown(photo_job), [photo, webcam, style, painting, strength, keep, stroke, size], [result, download, took],
                 api_name="stylise")
        sheet_button.click(shown(sheet_job), [photo, webcam, style], [sheet_image, download], api_name="contact_sheet")
        go_video.click(shown(video_job), [video, style, painting, strength, keep], [video_out, video_took],
                       api_name="stylise_video")
    page.queue(default_concurrency_limit=1, max_size=MAX_QUEUE)
    return page


def launch(page: gr.Blocks, host: str, port: int | None, share: bool = False) -> None:
    """Serve ``page`` without blocking (:meth:`gr.Blocks.block_thread` waits)."""
    page.launch(server_name=host, server_port=port, share=share, max_file_size=f"{jobs.MAX_UPLOAD_MB}mb",
                show_error=True, theme=THEME, ssr_mode=False, prevent_thread_lock=True, quiet=True)
