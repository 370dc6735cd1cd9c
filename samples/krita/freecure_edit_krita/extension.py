"""Krita glue: Tools > Scripts > "FreeCure: cure attributes...".

Exports the image (and the selection, if there is one, as the painted mask), asks for a prompt, sends
both to a `freecure-edit worker` that stays loaded while Krita runs, and adds the cure as a new layer
on top. Only 8-bit RGBA documents: the new layer's pixels are written in that layout.
"""

import os
import shutil
import tempfile

from krita import Extension, InfoObject, Krita
from PyQt5.QtGui import QImage
from PyQt5.QtWidgets import QApplication, QInputDialog, QMessageBox, QProgressDialog

from .worker_client import CANCELLED, WorkerClient, WorkerError, worker_command

TITLE = "FreeCure"
PHASES = {"inversion": "Inverting the photo", "foundation": "Foundation branch", "fasa": "Curing (FASA)",
          "rofa": "Curing (ROFA)", "apg": "Expressions (APG)"}


class FreeCureExtension(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self._worker = None
        self._prompt = "a woman with black curly hair, laughing happily"

    def setup(self):
        Krita.instance().notifier().applicationClosing.connect(self._stop_worker)

    def createActions(self, window):
        action = window.createAction("freecure_edit_cure", "FreeCure: cure attributes...", "tools/scripts")
        action.triggered.connect(self.cure_active_document)

    def cure_active_document(self):
        app = Krita.instance()
        document = app.activeDocument()
        parent = app.activeWindow().qwindow() if app.activeWindow() else None
        if document is None:
            QMessageBox.information(parent, TITLE, "Open an image first.")
            return
        if (document.colorModel(), document.colorDepth()) != ("RGBA", "U8"):
            QMessageBox.information(parent, TITLE, "Convert the image to 8-bit RGB/Alpha first (Image > Convert).")
            return
        prompt, accepted = QInputDialog.getText(parent, TITLE, "The full prompt, naming the attributes to cure:",
                                                text=self._prompt)
        if not accepted or not prompt.strip():
            return
        self._prompt = prompt
        folder = tempfile.mkdtemp(prefix="freecure-krita-")
        progress = QProgressDialog("Loading the models...", "Cancel", 0, 0, parent)
        progress.setWindowTitle(TITLE)
        progress.show()
        QApplication.processEvents()
        try:
            request = self._export(document, folder, prompt)
            reply = self._started_worker().cure(request, on_event=lambda event: _show(progress, event),
                                                should_cancel=progress.wasCanceled)
            _add_layer(document, reply["output"], f"FreeCure: {prompt}")
            if reply["warnings"]:
                QMessageBox.information(parent, TITLE, "\n".join(reply["warnings"]))
        except WorkerError as error:
            if error.exit_code != CANCELLED:  # cancelled from the dialog: nothing to report
                QMessageBox.warning(parent, TITLE, str(error))
        finally:
            progress.close()
            shutil.rmtree(folder, ignore_errors=True)

    def _started_worker(self):
        if self._worker is None or not self._worker.running:
            log = os.path.join(tempfile.gettempdir(), "freecure-edit-worker.log")
            self._worker = WorkerClient(worker_command(), log_path=log)
            self._worker.start()
        return self._worker

    def _stop_worker(self):
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _export(self, document, folder, prompt):
        """The request for the flattened image, with the selection as the painted mask."""
        photo = os.path.join(folder, "photo.png")
        document.setBatchmode(True)  # no export options dialog
        try:
            if not document.exportImage(photo, InfoObject()):
                raise WorkerError(f"Krita could not export the image to {photo}")
        finally:
            document.setBatchmode(False)
        request = {"prompt": prompt, "input": photo, "output": os.path.join(folder, "cured.png"),
                   "options": {"overwrite": True}}
        selection = document.selection()
        if selection is not None:
            width, height = document.width(), document.height()
            coverage = bytes(selection.pixelData(0, 0, width, height))
            mask = QImage(coverage, width, height, width, QImage.Format_Grayscale8)
            request["mask"] = os.path.join(folder, "mask.png")
            mask.save(request["mask"])
        return request


def _show(progress, event):
    if event["type"] == "progress":
        progress.setLabelText(f"{PHASES.get(event['phase'], event['phase'])}: {event['done']}/{event['total']}")
        progress.setRange(0, event["total"])
        progress.setValue(event["done"])
    QApplication.processEvents()  # the worker's events are the only moments Krita's window can repaint


def _add_layer(document, path, name):
    image = QImage(path).convertToFormat(QImage.Format_ARGB32)  # in memory: B, G, R, A, as Krita's RGBA8
    if image.width() != document.width() or image.height() != document.height():
        raise WorkerError(f"the cure is {image.width()}x{image.height()}, the image "
                          f"{document.width()}x{document.height()}")
    pixels = image.constBits().asstring(image.sizeInBytes())
    layer = document.createNode(name, "paintlayer")
    layer.setPixelData(pixels, 0, 0, image.width(), image.height())
    document.rootNode().addChildNode(layer, None)
    document.refreshProjection()
